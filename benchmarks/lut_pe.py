"""The "LUT PEs" table of BENCHMARKS.md: the logic cost of one PE that multiplies in logic cells.

Usage::

    python benchmarks/lut_pe.py              # the table
    python benchmarks/lut_pe.py --json       # one JSON object

Each design is elaborated for a board's platform with no hard multiplier left (so the PE gets
the ``"lut"`` multiplier, :mod:`systolic.rtl.multiplier`), written as RTLIL and synthesized
by Yosys (``synth_ice40`` / ``synth_ecp5`` with the options a board build adds, from the
project's tool paths); nextpnr then packs it (``--pack-only``) to count logic cells
(ICESTORM_LC) or TRELLIS_COMB. The designs, each for the board's default array at pipeline
0 and 1 (acc width as the board derives it):

* ``pe``: one whole PE (operand, product, accumulator and result registers);
* ``multiplier``: the LUT multiplier alone;
* ``yosys booth``, for comparison: registered operands and ``a * b`` into the product
  register, with Yosys's ``booth`` pass run before synthesis (which then sees no ``$mul``
  left for a DSP block).

The PE's ports become I/O cells in the packed design; they are not counted. With ``--fmax``
the multiplier is also placed and routed, fed from registers as a PE's neighbours feed it,
for nextpnr seeds 1, 2 and 3 (the Fmax of its clock, which I/O paths do not limit). Run it in
the checkouts to compare (e.g. before and after a change to the multiplier).
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import machine_info
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal

from systolic.boards.design import synth_options
from systolic.boards.platforms import board as get_board
from systolic.boards.report import parse_nextpnr_log, parse_yosys_log
from systolic.boards.toolchain import find_tool, tool_env
from systolic.rtl.config import overlay
from systolic.rtl.multiplier import LUTMultiplier, set_multiplier_budget
from systolic.rtl.pe import ProcessingElement

#: The board whose default array and device stand for each family.
BOARDS = {"ice40": "icebreaker", "ecp5": "ulx3s-85f"}
#: Yosys cells counted, by family (the rest are I/O, clock and constant cells).
YOSYS_CELLS = {"ice40": ("SB_LUT4", "SB_CARRY"), "ecp5": ("LUT4", "CCU2C", "PFUMX", "L6MUX21")}
#: Yosys's flip-flop cells, by family.
FLIP_FLOPS = {"ice40": r"SB_DFF\w*", "ecp5": r"TRELLIS_FF"}
#: The packed cell nextpnr counts as a logic cell.
PACKED_CELL = {"ice40": "ICESTORM_LC", "ecp5": "TRELLIS_COMB"}
#: nextpnr seeds of the ``--fmax`` runs.
SEEDS = (1, 2, 3)


class BoothReference(LUTMultiplier):
    """Registered operands and ``a * b`` into the product register, for Yosys's ``booth``."""

    def elaborate(self, platform):
        m = Module()
        a, b = Signal.like(self.a), Signal.like(self.b)
        m.d.sync += [a.eq(self.a), b.eq(self.b), self.product.eq(a * b)]
        return m


#: ``(name, component class, Yosys commands before synthesis)`` of each design measured.
DESIGNS = [("pe", ProcessingElement, ""), ("multiplier", LUTMultiplier, ""),
           ("yosys booth", BoothReference, "proc; booth")]


def fed_from_registers(config):
    """The LUT multiplier with its operands from registers, and ports for them."""
    m = Module()
    m.submodules.multiplier = multiplier = LUTMultiplier(config)
    a, b = Signal.like(multiplier.a), Signal.like(multiplier.b)
    m.d.sync += [multiplier.a.eq(a), multiplier.b.eq(b)]
    return m, [a, b, multiplier.product]


def synthesize(family, design, work, *, ports=None, before=""):
    """Write ``design`` for ``family``'s board and synthesize it to ``design.json`` in
    ``work``; return ``(board, tool environment)``."""
    board = get_board(BOARDS[family])
    platform = board.platform()
    set_multiplier_budget(platform, 0)
    (work / "design.il").write_text(rtlil.convert(design, platform=platform, name="top",
                                                  ports=ports))
    env = tool_env(family)
    script = (f"read_rtlil design.il; {before}; synth_{family} {' '.join(synth_options(board))} "
              f"-top top; tee -q -o stat.txt stat; write_json design.json")
    subprocess.run([str(find_tool("yosys")), "-q", "-p", script], cwd=work, env=env, check=True)
    return board, env


def fmax(family, config, work):
    """Fmax in MHz of the LUT multiplier fed from registers, one a seed of :data:`SEEDS`."""
    design, ports = fed_from_registers(config)
    board, env = synthesize(family, design, work, ports=ports)
    found = []
    for seed in SEEDS:
        routed = subprocess.run(
            [str(find_tool(f"nextpnr-{family}")), f"--{board.facts()['nextpnr_device']}",
             "--json", "design.json", "--freq", "300", "--seed", str(seed),
             "--timing-allow-fail"], cwd=work, env=env, capture_output=True, text=True,
            check=True)
        (clock,) = parse_nextpnr_log(routed.stderr)["fmax"].values()
        found.append(clock["achieved"])
    return found


def measure(family, component, before, work):
    """Synthesize and pack ``component`` for ``family``'s board; return its cell counts."""
    board, env = synthesize(family, component, work, before=before)
    synthesized = parse_yosys_log((work / "stat.txt").read_text())["cells"]
    counts = {cell: synthesized.get(cell, 0) for cell in YOSYS_CELLS[family]}
    counts["FF"] = sum(n for cell, n in synthesized.items()
                       if re.fullmatch(FLIP_FLOPS[family], cell))
    packed = subprocess.run(
        # Packing does not depend on the package (nextpnr's default for the device).
        [str(find_tool(f"nextpnr-{family}")), f"--{board.facts()['nextpnr_device']}",
         "--json", "design.json", "--pack-only"],
        cwd=work, env=env, capture_output=True, text=True, check=True)
    cell = PACKED_CELL[family]
    counts[cell] = parse_nextpnr_log(packed.stderr)["utilisation"][cell]["used"]
    return counts


def run(progress, with_fmax=False):
    """Measure every design on both families (and the multiplier's Fmax, ``with_fmax``);
    return the records."""
    records = []
    with tempfile.TemporaryDirectory() as work:
        for family, board in BOARDS.items():
            for pipeline in (0, 1):
                config = overlay(get_board(board).array, pipeline=pipeline)
                for name, component, before in DESIGNS:
                    if name != "pe" and pipeline:
                        continue    # the multiplier is the same at either pipeline setting
                    progress(f"{family} {name} pipeline {pipeline}")
                    cells = measure(family, component(config), before, Path(work))
                    records.append({"family": family, "board": board, "design": name,
                                    "pipeline": pipeline, "acc_width": config.acc_width,
                                    "signed": config.signed, "cells": cells})
                    if with_fmax and name == "multiplier":
                        progress(f"{family} {name}: place and route, seeds {SEEDS}")
                        records[-1]["fmax_mhz"] = fmax(family, config, Path(work))
    return records


def table(records):
    """Markdown tables, one a family."""
    lines = []
    for family in BOARDS:
        cells = list(YOSYS_CELLS[family]) + ["FF", PACKED_CELL[family]]
        lines += ["", f"| {family} design | pipeline | acc | " + " | ".join(cells)
                  + " | Fmax MHz, seeds " + ", ".join(map(str, SEEDS)) + " |",
                  "|---|---:|---:|" + "---:|" * len(cells) + "---|"]
        for r in (r for r in records if r["family"] == family):
            speed = ", ".join(f"{f:.1f}" for f in r.get("fmax_mhz", []))
            acc = r["acc_width"] if r["design"] == "pe" else ""
            lines.append(f"| {r['design']} | {r['pipeline']} | {acc} | "
                         + " | ".join(str(r["cells"][c]) for c in cells) + f" | {speed} |")
    return "\n".join(lines[1:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route the multiplier (seeds 1-3) for its Fmax")
    args = parser.parse_args(argv)
    records = run(lambda message: print(message, file=sys.stderr, flush=True), args.fmax)
    if args.json:
        print(json.dumps({"machine": machine_info.describe(), "records": records}))
    else:
        print(f"Machine: {machine_info.describe()}\n")
        print(table(records))


if __name__ == "__main__":
    main()
