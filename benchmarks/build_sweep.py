"""The "FPGA builds" table of BENCHMARKS.md: ``systolic sweep --build`` on a plan, then the table.

Usage::

    python benchmarks/build_sweep.py                              # benchmarks/fpga_builds.toml
    python benchmarks/build_sweep.py my_plan.toml --out build/my-sweep --jobs 2 --resume

The builds are ``systolic sweep PLAN --build`` (one at a time unless ``--jobs``; ``--resume``
keeps what ``--out`` already holds); this script only turns the stored points into the table.
A row is a point over its seeds (``seeds``: those whose build finished; ``WS`` marks a
weight-stationary engine): Fmax min and median; peak GOPS is ``2 * MACs * min(median
Fmax, target) / 1e3`` (the formula of ``systolic build``); sustained GOPS is the engine model's
figure for the sweep's GEMM at that clock (operand loads included); GOPS per 1,000 LUTs (logic
cells on iCE40, TRELLIS_COMB on ECP5) is peak GOPS over the median LUTs; build s is the median
wall time of one build. ``limited by`` names the ends of the slowest seed's critical path.
"""

import argparse
import statistics
import sys
from pathlib import Path

import machine_info
from systolic.boards.top_build import peak_gops
from systolic.host.cli import main as systolic
from systolic.host.sweep.store import SweepStore

PLAN = Path(__file__).with_name("fpga_builds.toml")


def rows(records):
    """Group the records by point without its seed: ``[(first record, [records])]``."""
    groups = {}
    for record in records:
        key = tuple((k, v) for k, v in record["point"].items() if k != "seed")
        groups.setdefault(key, []).append(record)
    return list(groups.values())


def table(records):
    """The Markdown table of ``records`` (one row a point over its seeds)."""
    lines = [
        "| board | design | array | MACs (DSP + LUT) | LUT | FF | DSP | BRAM | seeds | Fmax min | "
        "Fmax median | target | peak GOPS | sustained GOPS | GOPS / kLUT | build s | limited by |",
        "|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for group in rows(records):
        point = group[0]["point"]
        size = (f"{point['rows']}x{point['cols']}"
                + (f" p{point['pipeline']}" if point["pipeline"] else "")
                + (" WS" if point.get("dataflow") == "weight-stationary" else ""))
        head = f"| {point['board']} | {point['design']} | {size} |"
        built = [r for r in group if r["status"] == "ok" and r.get("build")]
        ok = [r["build"] for r in built]
        if not ok:
            # The log's path relative to here, where the table is made.
            reason = group[0]["reason"].replace(f"{Path.cwd()}/", "")
            lines.append(f"{head} | | | | | | | | {point['clock_mhz']:g} | | | | | "
                         f"{group[0]['status']}: {reason} |")
            continue
        fmax = [b["fmax_mhz"] for b in ok]
        seeds = ",".join(str(r["point"]["seed"]) for r in built)
        median = statistics.median(fmax)
        gops = peak_gops(ok[0]["report"]["macs"], median, ok[0]["target_mhz"])
        # The model's sustained figure scales with the clock the build runs at.
        model = group[0]["model"]
        sustained = (None if model["sustained_gops"] is None else
                     model["sustained_gops"] * min(median, ok[0]["target_mhz"]) / model["clock_mhz"])
        shown = "n/a" if sustained is None else f"{sustained:.2f}"
        lut = statistics.median(b["lut"]["used"] for b in ok)
        mult = ok[0]["multipliers"]
        worst = (min(ok, key=lambda b: b["fmax_mhz"])["critical_path"]) or {}
        lines.append(
            f"{head} {mult['hard_pes'] + mult['lut_pes']} ({mult['hard_pes']} + {mult['lut_pes']}) "
            f"| {lut:,.0f} | {statistics.median(b['ff']['used'] for b in ok):,.0f} "
            f"| {ok[0]['dsp']['used']} | {ok[0]['bram']['used']} | {seeds} | {min(fmax):.1f} "
            f"| {median:.1f} "
            f"| {ok[0]['target_mhz']:g} | {gops:.2f} | {shown} | {gops / (lut / 1e3):.2f} "
            f"| {statistics.median(b['seconds'] for b in ok):.0f} "
            f"| {_module(worst.get('from'))} -> {_module(worst.get('to'))} |")
    return "\n".join(lines)


def _module(cell):
    """``top.core.engine.drain.walked_SB_DFF...`` -> ``engine.drain``: where a path ends."""
    if not cell:
        return "?"
    parts = cell.split(".")
    keep = [p for p in parts[:-1] if p not in ("top", "core")][:2]
    return ".".join(keep) or parts[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("plan", nargs="?", default=str(PLAN), help="TOML plan (systolic sweep)")
    parser.add_argument("--out", default="build/fpga-builds", help="the sweep's store")
    parser.add_argument("--jobs", type=int, default=1, help="builds at once")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a tool may run")
    parser.add_argument("--resume", action="store_true", help="keep the points --out holds")
    parser.add_argument("--table-only", action="store_true", help="only print the stored table")
    args = parser.parse_args(argv)
    if not args.table_only:
        status = systolic(["sweep", args.plan, "--build", "--out", args.out, "--jobs",
                           str(args.jobs), "--timeout", str(args.timeout), "--quiet",
                           *(["--resume"] if args.resume else [])])
        if status not in (0, 1):
            return status
    meta = SweepStore(args.out).records()
    print(f"Machine: {machine_info.describe()}")
    print()
    print(table(sorted(meta.values(), key=lambda r: r["id"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
