"""FPGA builds over array sizes and nextpnr seeds: resources, Fmax, peak GOPS, build time.

Usage::

    python benchmarks/build_sweep.py                          # the default plan (below)
    python benchmarks/build_sweep.py --plan icebreaker:engine:4x4,ulx3s-85f:array:12x13 \\
        --seeds 1 2 --out build/boards-sweep

A plan entry is ``board:design:RxC[@MHz]``: ``design`` is ``engine`` (what ``systolic build``
builds: the engine behind its UART bridge) or ``array`` (the array alone, fed by a
pseudo-random source: what the array reaches without the engine's own critical paths). The
clock target defaults to the board's (``systolic build``'s default). Every entry is built once
a seed through the real toolchain (:func:`systolic.boards.top_build.build_board`); the table
gives Fmax as the minimum and the median over the seeds, peak GOPS as
``2 * MACs * min(median Fmax, target) / 1e3`` (the formula of ``systolic build``), GOPS per
1,000 LUTs (logic cells on iCE40, TRELLIS_COMB on ECP5) and the median build time. Every build
dir and the raw results (``results.json``) stay under ``--out``.
"""

import argparse
import concurrent.futures
import dataclasses
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import machine_info
from systolic.boards.platforms import board as get_board
from systolic.boards.top import default_array, default_clock_hz, default_engine_config
from systolic.boards.build import BuildError
from systolic.boards.top_build import build_board, peak_gops

#: The plan the committed table comes from (about 40 minutes on 2 cores with ``--jobs 2``): the
#: ULX3S-85F's default engine (8 x 16, pipelined, 128 of its 156 MULT18X18D) and the same array
#: alone at 150 MHz, and the iCEBreaker's engine at three sizes (4x4 is the default; 4x6 puts a
#: third of the PEs in logic cells). Slowest entry first, so that two jobs finish together.
DEFAULT_PLAN = ("ulx3s-85f:engine:8x16,icebreaker:engine:2x2,icebreaker:engine:4x4,"
                "icebreaker:engine:4x6,ulx3s-85f:array:8x16@150")


def parse_plan(text):
    """Return ``[(board, design, rows, cols, clock_hz or None)]`` from ``text``."""
    plan = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        try:
            name, design, size = entry.split(":")
            clock = None
            if "@" in size:
                size, mhz = size.split("@")
                clock = float(mhz) * 1e6
            rows, cols = (int(n) for n in size.lower().split("x"))
        except ValueError:
            raise SystemExit(f"bad plan entry {entry!r}: expected board:design:RxC[@MHz]")
        plan.append((get_board(name).name, design, rows, cols, clock))
    return plan


def run_entry(entry, seeds, out_root, timeout, say):
    """Build one plan entry at every seed; return its raw results."""
    name, design, rows, cols, clock = entry
    b = get_board(name)
    # The board's default array (widths, pipelining) at this size.
    engine = default_engine_config(b, dataclasses.replace(default_array(b), rows=rows, cols=cols))
    clock = default_clock_hz(b) if clock is None else clock
    runs = []
    for seed in seeds:
        out = out_root / f"{name}-{design}-{rows}x{cols}-{clock / 1e6:g}mhz-s{seed}"
        say(f"{name} {design} {rows}x{cols} at {clock / 1e6:g} MHz, seed {seed} -> {out}")
        started = time.monotonic()
        try:
            report = build_board(b, engine, out, clk_hz=clock, seed=seed, design=design,
                                 timeout=timeout)
        except BuildError as exc:
            runs.append({"seed": seed, "error": str(exc), "seconds": time.monotonic() - started})
            say(f"  failed: {exc}")
            continue
        path = report["clock"]["critical_path"] or {}
        runs.append({
            "seed": seed, "seconds": report["seconds"],
            "lut": report["lut"]["used"], "ff": report["ff"]["used"],
            "dsp": report["dsp"]["used"], "bram": report["bram"]["used"],
            "fmax_mhz": report["fmax_mhz"], "target_mhz": report["target_mhz"],
            "timing_met": report["timing_met"], "macs": report["macs"],
            "hard_pes": report["multipliers"]["hard_pes"],
            "lut_pes": report["multipliers"]["lut_pes"],
            "critical_path": {k: path.get(k) for k in ("from", "to", "delay_ns", "logic_ns",
                                                       "routing_ns")},
        })
        say(f"  Fmax {report['fmax_mhz']} MHz, {report['lut']['used']} LUT, "
            f"{report['seconds']:.0f} s")
    return {"board": name, "device": b.device, "design": design, "rows": rows, "cols": cols,
            "pipeline": engine.array.pipeline, "clock_hz": clock, "runs": runs}


def table(results):
    """The Markdown table of ``results`` (one row per plan entry)."""
    lines = [
        "| board | design | array | MACs (DSP + LUT) | LUT | FF | DSP | BRAM | Fmax min | "
        "Fmax median | target | peak GOPS | GOPS / kLUT | build s | limited by |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for entry in results:
        ok = [run for run in entry["runs"] if "error" not in run]
        size = f"{entry['rows']}x{entry['cols']}"
        if entry.get("pipeline"):
            size += f" p{entry['pipeline']}"
        target = entry["clock_hz"] / 1e6
        if not ok:
            error = entry["runs"][0]["error"] if entry["runs"] else "not run"
            lines.append(f"| {entry['board']} | {entry['design']} | {size} | | | | | | | | "
                         f"{target:g} | | | | failed: {error} |")
            continue
        first = ok[0]
        fmaxes = [run["fmax_mhz"] for run in ok]
        median = statistics.median(fmaxes)
        gops = peak_gops(first["macs"], median, target)
        lut = statistics.median(run["lut"] for run in ok)
        per_klut = gops / (lut / 1000) if lut else 0
        # The critical path of the slowest seed, by its end points' module names.
        worst = min(ok, key=lambda run: run["fmax_mhz"])["critical_path"]
        limited = _module(worst.get("from")) + " -> " + _module(worst.get("to"))
        lines.append(
            f"| {entry['board']} | {entry['design']} | {size} | {first['macs']} "
            f"({first['hard_pes']} + {first['lut_pes']}) | {lut:,.0f} | "
            f"{statistics.median(run['ff'] for run in ok):,.0f} | {first['dsp']} | {first['bram']} | "
            f"{min(fmaxes):.1f} | {median:.1f} | {target:g} | {gops:.2f} | {per_klut:.2f} | "
            f"{statistics.median(run['seconds'] for run in ok):.0f} | {limited} |")
    return "\n".join(lines)


def _module(cell):
    """``top.core.engine.drain.walked_SB_DFF...`` -> ``engine.drain``: where a path ends."""
    if not cell:
        return "?"
    parts = cell.split(".")
    keep = [p for p in parts[:-1] if p not in ("top", "core")][:2]
    return ".".join(keep) or parts[0]


def say(message):
    print(message, file=sys.stderr, flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", default=DEFAULT_PLAN,
                        help="comma-separated board:design:RxC[@MHz] entries")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="nextpnr seeds")
    parser.add_argument("--out", default="build/boards-sweep", help="build directories go here")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds a tool may run")
    parser.add_argument("--jobs", type=int, default=1,
                        help="plan entries built at once (build time then counts the sharing)")
    args = parser.parse_args(argv)
    plan = parse_plan(args.plan)
    out_root = Path(args.out)
    out_root.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    if args.jobs == 1:
        results = [run_entry(entry, args.seeds, out_root, args.timeout, say) for entry in plan]
    else:
        # Each build is one single-threaded tool at a time: on N cores, N entries at once.
        with concurrent.futures.ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_entry, plan, itertools.repeat(args.seeds),
                                    itertools.repeat(out_root), itertools.repeat(args.timeout),
                                    itertools.repeat(say)))
    (out_root / "results.json").write_text(json.dumps(results, indent=2))
    print(f"Machine: {machine_info.describe()}")
    print(f"Seeds: {', '.join(map(str, args.seeds))}; {args.jobs} build(s) at a time; whole sweep "
          f"{time.monotonic() - started:.0f} s")
    print()
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
