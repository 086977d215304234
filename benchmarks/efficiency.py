"""Print the GEMM engine's efficiency table as Markdown.

Efficiency is the ideal ``M*N*K / (R*C)`` cycles (every MAC busy every cycle) over the cycles
from the first START command to the last result word. Cycle counts come from the numpy model
(:mod:`systolic.sim.engine_model`); rows marked ``RTL`` were also simulated in Amaranth, with
results and cycles asserted equal to the model's.

Usage::

    python benchmarks/efficiency.py              # simulate the cheap rows and the 128^3 on 8x8
                                                 # target (about 10 minutes)
    python benchmarks/efficiency.py --sim none   # model only (seconds)
    python benchmarks/efficiency.py --sim all    # simulate every row (an hour or more)
"""

import argparse
import sys

import numpy as np

from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine_config import EngineConfig
from systolic.sim.engine_model import EngineModel
from systolic.sim.engine_sim import run_engine_gemm
from systolic.sim.engine_tiling import gemm_program
from systolic.sim.model import ideal_cycles, matmul

ARRAYS = [(4, 4), (8, 8), (3, 5), (16, 16)]
SHAPES = [(128, 128, 128), (64, 64, 64), (32, 32, 32), (37, 53, 29), (128, 256, 128),
          (128, 16, 128), (1, 128, 128), (128, 128, 1)]
TILED_SHAPES = [(128, 128, 128), (64, 64, 64), (37, 53, 29), (100, 300, 70)]
TILED_ARRAYS = [(2, 2), (4, 4), (3, 5)]
#: Simulate a row with ``--sim small`` if its cycles times MACs is below this (about 20 s).
SMALL_WORK = 400_000
#: Rows ``--sim small`` simulates whatever they cost: the issue's target.
ALWAYS = {((8, 8), (128, 128, 128))}


def model_cycles(config, m, k, n):
    """Cycles and job count of an ``m x k x n`` GEMM (operand values do not change timing)."""
    program = gemm_program(np.zeros((m, k), dtype=np.int64), np.zeros((k, n), dtype=np.int64),
                           config)
    trace = EngineModel(config).run(program.words)
    return trace.outputs[-1][0] - trace.accepted[program.first_start] + 1, len(program.jobs)


def simulate(config, m, k, n, expected_cycles):
    """Run the GEMM on the RTL; return True after checking results and cycles."""
    array = config.array
    rng = np.random.default_rng(m * 10007 + k * 101 + n)
    a = rng.integers(array.a_range[0], array.a_range[1] + 1, (m, k))
    b = rng.integers(array.b_range[0], array.b_range[1] + 1, (k, n))
    run = run_engine_gemm(config, a, b)
    if not np.array_equal(run.result, matmul(a, b, array)):
        raise SystemExit(f"RTL result differs from the model for {m}x{k}x{n} on {array.describe()}")
    if run.cycles != expected_cycles:
        raise SystemExit(f"RTL took {run.cycles} cycles, the model says {expected_cycles}, "
                         f"for {m}x{k}x{n} on {array.describe()}")
    return True


def rows_of(configs, shapes, sim):
    for (rows, cols), config in configs:
        for m, k, n in shapes:
            cycles, jobs = model_cycles(config, m, k, n)
            ideal = ideal_cycles(m, k, n, config.array)
            checked = "model"
            cheap = cycles * rows * cols <= SMALL_WORK or ((rows, cols), (m, k, n)) in ALWAYS
            if sim == "all" or (sim == "small" and cheap):
                print(f"simulating {m}x{k}x{n} on {rows}x{cols} ...", file=sys.stderr, flush=True)
                simulate(config, m, k, n, cycles)
                checked = "RTL"
            yield (f"{rows}x{cols}", f"{m}x{k}x{n}", jobs, cycles, ideal, ideal / cycles, checked)


def table(title, note, rows):
    lines = [f"### {title}", "", note, "",
             "| array | M x K x N | jobs | cycles | ideal | efficiency | checked |",
             "|---|---|---:|---:|---:|---:|---|"]
    for array, shape, jobs, cycles, ideal, efficiency, checked in rows:
        lines.append(f"| {array} | {shape} | {jobs} | {cycles} | {ideal:.0f} | {efficiency:.3f} "
                     f"| {checked} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sim", choices=("none", "small", "all"), default="small",
                        help="which rows to also simulate in Amaranth (default: small)")
    args = parser.parse_args(argv)

    resident = [((r, c), EngineConfig.ecp5(ArrayConfig(rows=r, cols=c))) for r, c in ARRAYS]
    tiled = [((r, c), EngineConfig(ArrayConfig(rows=r, cols=c))) for r, c in TILED_ARRAYS]
    print("## GEMM engine efficiency\n")
    print("Cycles from the first START command to the last result word; efficiency = "
          "M*N*K / (R*C) / cycles. int8 operands, 28-bit accumulators. `RTL`: simulated in "
          "Amaranth, results and cycles equal to the model's; `model`: numpy model only.\n")
    print(table(
        "One job, operands resident",
        "`EngineConfig.ecp5` buffers (jobs up to 128 x 256 x 128); a larger shape is split by "
        "the host tiler. The result stream carries one element a cycle, so a job needs at "
        "least M*N cycles: when K < R*C the output, not the array, sets the pace.",
        rows_of(resident, SHAPES, args.sim)))
    print(table(
        "Host-tiled on the default (iCE40 UP5K) buffers",
        "`EngineConfig()` buffers (jobs up to 8R x 32 x 8C); the operand loads of every job "
        "but the first fall inside the count, overlapped with the previous job by the two "
        "operand banks; one operand is loaded a cycle.",
        rows_of(tiled, TILED_SHAPES, args.sim)))


if __name__ == "__main__":
    main()
