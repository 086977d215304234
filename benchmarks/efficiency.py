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


def peer_formula(m, k, n, rows, cols):
    """SCALE-Sim's output-stationary cycles in closed form (one fold a tile, each K + R + C - 2
    cycles, one cycle less in all): what its COMPUTE_REPORT gives on the rows it was run on."""
    folds = math.ceil(m / rows) * math.ceil(n / cols)
    return folds * (k + rows + cols - 2) - 1


def run_peer(python, rows, cols, m, k, n, timeout):
    """SCALE-Sim's ``Overall Util`` for one GEMM, or None if it took longer than ``timeout``."""
    job = json.dumps([[rows, cols, "os", m, k, n]])
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
    key = (array.rows, array.cols, m, k, n)
    if args.scalesim_python and key not in peer_cache:
        print(f"SCALE-Sim: {m}x{k}x{n} on {array.rows}x{array.cols}", file=sys.stderr, flush=True)
        peer_cache[key] = run_peer(args.scalesim_python, *key, args.scalesim_timeout)
    peer = peer_cache.get(key)
    if peer is not None:
        peer_eff, mark = peer["overall_util"], ""
    else:
        ideal = m * k * n / array.macs
        peer_eff, mark = ideal / peer_formula(m, k, n, array.rows, array.cols), "*"
    return (label, f"{m}x{k}x{n}", perf.jobs, perf.cycles, perf.ideal_cycles, perf.efficiency,
            perf.sustained_efficiency, peer_eff, mark, checked)


def table(title, note, rows, extra=""):
    lines = [f"### {title}", "", note, "",
             "| design | M x K x N | jobs | cycles | ideal | efficiency | sustained | SCALE-Sim OS "
             "| ours / peer | checked |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for label, shape, jobs, cycles, ideal, eff, sustained, peer, mark, checked in rows:
        lines.append(f"| {label} | {shape} | {jobs} | {cycles} | {ideal:.0f} | {eff:.3f} | "
                     f"{sustained:.3f} | {peer:.3f}{mark} | {eff / peer:.2f} | {checked} |")
    return "\n".join(lines) + "\n" + extra


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", choices=("none", "sample", "all"), default="sample",
                        help="which rows to also run on Verilator (default: a sample)")
    parser.add_argument("--scalesim-python", metavar="PYTHON",
                        help="the python of a virtual environment with SCALE-Sim installed")
    parser.add_argument("--scalesim-timeout", type=float, default=300, metavar="S",
                        help="seconds SCALE-Sim may take a GEMM before its closed form is shown "
                             "instead (default 300)")
    args = parser.parse_args(argv)
    peer_cache = {}

    print(describe())
    print()
    defaults = [(f"{r}x{c}", EngineConfig(ArrayConfig(rows=r, cols=c))) for r, c in ARRAYS]
    rows = [row(label, config, gemm, args, peer_cache) for label, config in defaults
            for gemm in GEMMS]
    footnote = ("\n`*`: SCALE-Sim took longer than the timeout on this row; its closed form "
                "(`ceil(M/R)*ceil(N/C)` folds of `K+R+C-2` cycles, less one), which equals its "
                "report on every row it ran, stands in.\n")
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
