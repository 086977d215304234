"""Print the GEMM engine's efficiency tables as Markdown: its own, and the peer's on the same work.

Efficiency is the ideal ``M*N*K / (R*C)`` cycles (every MAC busy every cycle) over the cycles
from the first START command to the last result word; *sustained* counts from the first input
word instead (the first job's operand load included). Cycle counts come from the exact engine
model (:func:`systolic.sim.engine_perf.gemm_perf`); rows marked ``RTL`` were also run on the
engine's Verilog in Verilator, with results equal to numpy's and cycles equal to the model's.

The peer is SCALE-Sim (output stationary, the same array, no memory stalls), run from its own
virtual environment, since it needs numpy < 2 (``benchmarks/scalesim_peer.py``)::

    python3 -m venv scalesim-venv && scalesim-venv/bin/pip install "numpy<2" scalesim

Usage::

    python benchmarks/efficiency.py                     # model; Verilator on a sample of rows
    python benchmarks/efficiency.py --sim none          # model only (seconds)
    python benchmarks/efficiency.py --sim all           # every row on Verilator
    python benchmarks/efficiency.py --scalesim-python scalesim-venv/bin/python
"""

import argparse
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np

from machine_info import describe
from systolic.boards.top import default_clock_hz, default_engine_config
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.sim.engine_perf import gemm_perf
from systolic.sim.backends.verilog_engine import run_engine_gemm_verilog

#: Every array shape the targets name, and the GEMMs they name.
ARRAYS = [(2, 2), (3, 5), (4, 4), (8, 8), (8, 16), (16, 8), (12, 12), (16, 16)]
GEMMS = [(256, 256, 256), (512, 512, 512), (128, 128, 128), (37, 53, 29)]
BOARDS = ["icebreaker", "ulx3s-85f"]
#: Rows ``--sim sample`` runs on Verilator: every array's two small GEMMs, every board's 256^3.
SAMPLE_GEMMS = {(128, 128, 128), (37, 53, 29)}
PEER = Path(__file__).with_name("scalesim_peer.py")


def peer_formula(m, k, n, rows, cols, dataflow="os"):
    """SCALE-Sim's cycles in closed form, what its COMPUTE_REPORT gives on the rows it was run on:
    output-stationary, one fold an output tile of ``K + R + C - 2`` cycles; weight-stationary,
    one fold a weight tile of ``M + 2R + C - 2`` (the tile's R-cycle load, then the rows
    through); one cycle less in all."""
    if dataflow == "os":
        folds, fold = math.ceil(m / rows) * math.ceil(n / cols), k + rows + cols - 2
    else:
        folds, fold = math.ceil(k / rows) * math.ceil(n / cols), m + 2 * rows + cols - 2
    return folds * fold - 1


def peer_efficiency(args, cache, rows, cols, m, k, n, dataflow):
    """SCALE-Sim's efficiency for the GEMM and its mark: its run (``""``), or where it is not run
    or takes longer than the timeout its closed form (``"*"``)."""
    key = (dataflow, rows, cols, m, k, n)
    if args.scalesim_python and key not in cache:
        print(f"SCALE-Sim {dataflow.upper()}: {m}x{k}x{n} on {rows}x{cols}", file=sys.stderr,
              flush=True)
        cache[key] = run_peer(args.scalesim_python, rows, cols, m, k, n, args.scalesim_timeout,
                              dataflow)
    formula = peer_formula(m, k, n, rows, cols, dataflow)
    peer = cache.get(key)
    if peer is None:
        return m * k * n / (rows * cols) / formula, "*"
    if peer["total_cycles"] != formula:
        print(f"note: SCALE-Sim's {peer['total_cycles']} cycles differ from the closed form's "
              f"{formula} on {m}x{k}x{n}, {rows}x{cols}, {dataflow}", file=sys.stderr)
    return peer["overall_util"], ""


def closed_form_note(folds, fold):
    """The footnote on rows where :func:`peer_formula` stands in for SCALE-Sim."""
    return (f"\n`*`: SCALE-Sim was not run or took longer than the timeout on this row; its "
            f"closed form (`{folds}` folds of `{fold}` cycles, less one), which equals its "
            f"report on every row it ran, stands in.\n")


def run_peer(python, rows, cols, m, k, n, timeout, dataflow="os"):
    """SCALE-Sim's ``Overall Util`` for one GEMM (``dataflow`` ``"os"`` or ``"ws"``), or None if it
    took longer than ``timeout``."""
    job = json.dumps([[rows, cols, dataflow, m, k, n]])
    try:
        done = subprocess.run([python, str(PEER)], input=job, capture_output=True, text=True,
                              timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(done.stdout.splitlines()[-1])


def rtl_check(config, m, k, n):
    """Run the GEMM on Verilator; raise unless results and cycles are the model's."""
    array = config.array
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    a = rng.integers(array.a_range[0], array.a_range[1] + 1, (m, k))
    b = rng.integers(array.b_range[0], array.b_range[1] + 1, (k, n))
    run = run_engine_gemm_verilog(config, a, b)
    if not np.array_equal(run.result, a @ b):
        raise SystemExit(f"RTL result differs from numpy for {m}x{k}x{n} on {config.describe()}")
    expected = gemm_perf(config, m, k, n).cycles
    if run.cycles != expected:
        raise SystemExit(f"RTL took {run.cycles} cycles, the model says {expected}, for "
                         f"{m}x{k}x{n} on {config.describe()}")
    return "RTL"


def row(label, config, gemm, args, peer_cache):
    m, k, n = gemm
    array = config.array
    perf = gemm_perf(config, m, k, n)
    sim = args.sim == "all" or (args.sim == "sample" and (gemm in SAMPLE_GEMMS
                                                          or label in BOARDS))
    if sim:
        print(f"Verilator: {m}x{k}x{n} on {label}", file=sys.stderr, flush=True)
    checked = rtl_check(config, m, k, n) if sim else "model"
    peer_eff, mark = peer_efficiency(args, peer_cache, array.rows, array.cols, m, k, n, "os")
    return (label, f"{m}x{k}x{n}", perf.jobs, perf.cycles, perf.ideal_cycles, perf.efficiency,
            perf.sustained_efficiency, peer_eff, mark, checked)


def dataflow_row(label, config, gemm, args, peer_cache):
    """One row of the dataflow table: the GEMM on ``config``'s design, output- and
    weight-stationary, and SCALE-Sim's weight-stationary figure (its run, or its closed form)."""
    m, k, n = gemm
    array = config.array
    on = {name: dataclasses.replace(config, array=dataclasses.replace(array, dataflow=name))
          for name in ("output-stationary", "weight-stationary")}
    os_perf = gemm_perf(on["output-stationary"], m, k, n)
    ws_perf = gemm_perf(on["weight-stationary"], m, k, n)
    sim = args.sim == "all" or (args.sim == "sample" and gemm in SAMPLE_GEMMS
                                and (array.rows, array.cols) == (8, 8))
    if sim:
        print(f"Verilator: {m}x{k}x{n} on {label}, weight-stationary", file=sys.stderr, flush=True)
    checked = rtl_check(on["weight-stationary"], m, k, n) if sim else "model"
    peer, mark = peer_efficiency(args, peer_cache, array.rows, array.cols, m, k, n, "ws")
    return (label, f"{m}x{k}x{n}", os_perf.efficiency, ws_perf.jobs, ws_perf.cycles,
            ws_perf.efficiency, ws_perf.sustained_efficiency, peer, mark, checked)


def markdown(title, note, columns, cells, extra=""):
    """A Markdown table under a heading: ``columns`` names, the first two left-aligned and the
    last too, the others right-aligned; ``cells`` a list of cell lists."""
    align = ["---"] * 2 + ["---:"] * (len(columns) - 3) + ["---"]
    lines = [f"### {title}", "", note, "", "| " + " | ".join(columns) + " |",
             "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n" + extra


def dataflow_table(title, note, rows, extra=""):
    columns = ["design", "M x K x N", "OS efficiency", "WS jobs", "WS cycles", "WS efficiency",
               "WS sustained", "WS / OS", "SCALE-Sim WS", "WS / peer", "checked"]
    cells = [[label, shape, f"{os_eff:.3f}", f"{jobs}", f"{cycles}", f"{eff:.3f}",
              f"{sustained:.3f}", f"{eff / os_eff:.2f}",
              f"{peer:.3f}{mark}", f"{eff / peer:.2f}", checked]
             for label, shape, os_eff, jobs, cycles, eff, sustained, peer, mark, checked in rows]
    return markdown(title, note, columns, cells, extra)


def table(title, note, rows, extra=""):
    columns = ["design", "M x K x N", "jobs", "cycles", "ideal", "efficiency", "sustained",
               "SCALE-Sim OS", "ours / peer", "checked"]
    cells = [[label, shape, f"{jobs}", f"{cycles}", f"{ideal:.0f}", f"{eff:.3f}",
              f"{sustained:.3f}", f"{peer:.3f}{mark}", f"{eff / peer:.2f}", checked]
             for label, shape, jobs, cycles, ideal, eff, sustained, peer, mark, checked in rows]
    return markdown(title, note, columns, cells, extra)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", choices=("none", "sample", "all"), default="sample",
                        help="which rows to also run on Verilator (default: a sample)")
    parser.add_argument("--scalesim-python", metavar="PYTHON",
                        help="the python of a virtual environment with SCALE-Sim installed")
    parser.add_argument("--scalesim-timeout", type=float, default=300, metavar="S",
                        help="seconds SCALE-Sim may take a GEMM before its closed form is shown "
                             "instead (default 300)")
    parser.add_argument("--tables", choices=("all", "dataflows"), default="all",
                        help="every table (default), or only output- against weight-stationary")
    args = parser.parse_args(argv)
    peer_cache = {}

    print(describe())
    print()
    dataflow_note = ("Each design on both dataflows, by the exact engine model; `checked` as "
                     "above for the weight-stationary engine; SCALE-Sim 3.0.0 weight-stationary on "
                     "the same array.")
    designs = [(f"{r}x{c}", EngineConfig(ArrayConfig(rows=r, cols=c))) for r, c in ARRAYS]
    designs += [(name, default_engine_config(name)) for name in BOARDS]
    print(dataflow_table("Output- against weight-stationary", dataflow_note,
                         [dataflow_row(label, config, gemm, args, peer_cache)
                          for label, config in designs for gemm in GEMMS],
                         closed_form_note("ceil(K/R)*ceil(N/C)", "M+2R+C-2")))
    if args.tables == "dataflows":
        return
    defaults = [(f"{r}x{c}", EngineConfig(ArrayConfig(rows=r, cols=c))) for r, c in ARRAYS]
    rows = [row(label, config, gemm, args, peer_cache) for label, config in defaults
            for gemm in GEMMS]
    footnote = closed_form_note("ceil(M/R)*ceil(N/C)", "K+R+C-2")
    print(table("`systolic simulate`'s default buffers",
                "int8 operands, 28-bit accumulators, `EngineConfig(ArrayConfig(rows=R, cols=C))`: "
                "jobs of 128 K steps and at least 128 x 128 results, `max(R, C)` or more blocks "
                "each way.", rows, footnote))
    boards = []
    for name in BOARDS:
        config = default_engine_config(name)
        for gemm in GEMMS:
            boards.append(row(name, config, gemm, args, peer_cache))
    print(table("Board defaults",
                "The engine `systolic build --board NAME` builds, at its target clock: "
                + "; ".join(f"{name} {default_engine_config(name).describe()} at "
                            f"{default_clock_hz(name) / 1e6:g} MHz" for name in BOARDS) + ".",
                boards, footnote))


if __name__ == "__main__":
    main()
