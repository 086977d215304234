"""cocotb testbench for the Verilog that ``systolic generate`` writes.

The simulator loads this module by its package name, ``systolic.sim.backends.cocotb_array_bench``; it is not
meant to be imported otherwise. What to run comes from a JSON *job* file named by the
environment variable :data:`~systolic.sim.backends.cocotb_array.JOB_ENV` (see
:func:`systolic.sim.backends.cocotb_array.run_cocotb` for its fields), and what the hardware did goes to
the job's ``out`` file, so that the Python process that started the simulator gets the result
rows and the cycle count back.

The bench drives the array exactly like the Amaranth harness
(:func:`systolic.sim.backends.amaranth_array.run_array_gemm`): it offers a beat every cycle, takes every
result row, and counts cycles from the first accepted beat to the last result row, both
included, so its count is comparable with :func:`~systolic.sim.model.gemm_cycles`.
"""

import random

import cocotb
import numpy as np

from ...rtl.config import ArrayConfig
from ..errors import SimulationError
from ..model import gemm_cycles, matmul
from ..tiling import array_feed
from .cocotb_streams import answer_job, load_job, reset, run_streams


async def drive_gemm(dut, beats, expected_rows, budget, *, bubble_rate=0.0, seed=0):
    """Feed ``beats`` to the array and collect ``expected_rows`` result rows
    (:func:`~.cocotb_streams.run_streams`).

    Parameters
    ----------
    dut : cocotb handle
        The ``systolic_array`` top level.
    beats : list of int
        Packed operand beats, in order.
    expected_rows : int
        Result rows to wait for.
    budget : int
        Cycles after which a missing row is a hang (:class:`SimulationError`).
    bubble_rate : float
        Probability that the feeder withholds ``valid`` on a cycle (0: a beat every cycle).
    seed : int
        Seed of the bubble pattern.

    Returns
    -------
    rows : list of int
        The raw ``o_stream__payload`` values.
    cycles : int
        From the first accepted beat to the last result row, both counted.
    """
    rng = random.Random(seed)
    await reset(dut)
    accepted, outputs, _ = await run_streams(
        dut, beats, budget=budget,
        done=lambda taken, rows: len(rows) >= expected_rows,
        hang=lambda taken, rows: (f"no result after {budget} cycles: "
                                  f"{len(rows)} of {expected_rows} rows seen"),
        withhold=(lambda: rng.random() < bubble_rate) if bubble_rate else None)
    if not accepted or len(accepted) != len(beats):
        raise SimulationError(f"all {expected_rows} rows came out after only {len(accepted)} "
                              f"of {len(beats)} beats were accepted")
    return [row for _, row in outputs], outputs[-1][0] - accepted[0] + 1


def _first_difference(result, expected):
    bad = np.argwhere(result != expected)
    i, j = (int(x) for x in bad[0])
    return (f"{len(bad)} of {expected.size} results differ; first at [{i}, {j}]: "
            f"hardware {result[i, j]}, model {expected[i, j]}")


@cocotb.test()
async def gemm_against_model(dut):
    """Run the job's GEMM on the array; with ``check`` set, compare with the numpy model.

    The result must match :func:`~systolic.sim.model.matmul` bit for bit and, when the feeder
    made no bubbles, the cycle count must equal :func:`~systolic.sim.model.gemm_cycles`.
    """
    job = load_job()
    config = ArrayConfig.from_dict(job["config"])
    a = np.array(job["a"], dtype=np.int64)
    b = np.array(job["b"], dtype=np.int64)
    m, k = a.shape
    n = b.shape[1]
    feed = array_feed(a, b, config)
    bubble_rate = float(job.get("bubble_rate", 0.0))
    rows, cycles = await answer_job(
        job, drive_gemm(dut, feed.beats, feed.rows, job["budget"],
                        bubble_rate=bubble_rate, seed=job.get("seed", 0)),
        lambda run, loop_s: {"rows": [format(row, "x") for row in run[0]], "cycles": run[1],
                             "loop_s": loop_s})

    if job.get("check", True):
        result = feed.assemble(rows)
        expected = matmul(a, b, config)
        assert np.array_equal(result, expected), _first_difference(result, expected)
        if not bubble_rate:
            model = gemm_cycles(m, k, n, config)
            assert cycles == model, f"the array took {cycles} cycles, the model says {model}"
