"""cocotb testbench for the Verilog that ``systolic generate`` writes.

The simulator loads this module by its package name, ``systolic.sim.cocotb_bench``; it is not
meant to be imported otherwise. What to run comes from a JSON *job* file named by the
environment variable :data:`~systolic.sim.cocotb_sim.JOB_ENV` (see
:func:`systolic.sim.cocotb_sim.run_cocotb` for its fields), and what the hardware did goes to
the job's ``out`` file, so that the Python process that started the simulator gets the result
rows and the cycle count back.

The bench drives the array exactly like the Amaranth harness
(:func:`systolic.sim.amaranth_sim.run_array_gemm`): it offers a beat every cycle, takes every
result row, and counts cycles from the first accepted beat to the last result row, both
included, so its count is comparable with :func:`~systolic.sim.model.gemm_cycles`.
"""

import json
import os
import random
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from ..rtl.config import ArrayConfig
from .cocotb_sim import JOB_ENV
from .model import gemm_cycles, matmul
from .tiling import SimulationError, assemble, gemm_beats

#: Clock cycles of reset before the first beat.
RESET_CYCLES = 2


def _load_job():
    with open(os.environ[JOB_ENV]) as f:
        return json.load(f)


def _write_out(path, data):
    # Write then rename: the host never reads half a file, even if the simulator dies.
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


async def drive_gemm(dut, beats, expected_rows, budget, *, bubble_rate=0.0, seed=0):
    """Feed ``beats`` to the array and collect ``expected_rows`` result rows.

    Each cycle, right after the rising edge, the bench drives ``valid`` and the payload,
    waits for the design to settle (``ready`` depends combinationally on the payload's
    ``last`` flag) and then samples the handshake and the registered outputs.

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
    clk = dut.clk
    valid, payload, ready = dut.i_stream__valid, dut.i_stream__payload, dut.i_stream__ready
    out_valid, out_payload = dut.o_stream__valid, dut.o_stream__payload
    rng = random.Random(seed)

    Clock(clk, 10, unit="ns").start()
    dut.rst.value = 1
    valid.value = 0
    payload.value = 0
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    dut.rst.value = 0

    rows = []
    index = 0
    cycle = 0
    first = last = None
    while len(rows) < expected_rows:
        if cycle > budget:
            raise SimulationError(f"no result after {budget} cycles: "
                                  f"{len(rows)} of {expected_rows} rows seen")
        offer = index < len(beats) and not (bubble_rate and rng.random() < bubble_rate)
        valid.value = int(offer)
        if offer:
            payload.value = beats[index]
        await ReadOnly()
        if offer and ready.value:
            if first is None:
                first = cycle
            index += 1
        if out_valid.value:
            rows.append(out_payload.value.to_unsigned())
            last = cycle
        await RisingEdge(clk)
        cycle += 1
    valid.value = 0
    if first is None or index != len(beats):
        raise SimulationError(f"all {expected_rows} rows came out after only {index} of "
                              f"{len(beats)} beats were accepted")
    return rows, last - first + 1


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
    job = _load_job()
    config = ArrayConfig.from_dict(job["config"])
    a = np.array(job["a"], dtype=np.int64)
    b = np.array(job["b"], dtype=np.int64)
    m, k = a.shape
    n = b.shape[1]
    passes = gemm_beats(a, b, config)
    beats = [beat for pass_beats in passes for beat in pass_beats]
    bubble_rate = float(job.get("bubble_rate", 0.0))

    started = time.perf_counter()
    try:
        rows, cycles = await drive_gemm(dut, beats, len(passes) * config.rows, job["budget"],
                                        bubble_rate=bubble_rate, seed=job.get("seed", 0))
    except SimulationError as exc:
        _write_out(job["out"], {"error": str(exc)})
        raise
    loop_s = time.perf_counter() - started
    _write_out(job["out"], {"rows": [format(row, "x") for row in rows], "cycles": cycles,
                            "loop_s": loop_s})

    if job.get("check", True):
        result = assemble(rows, m, n, config)
        expected = matmul(a, b, config)
        assert np.array_equal(result, expected), _first_difference(result, expected)
        if not bubble_rate:
            model = gemm_cycles(m, k, n, config)
            assert cycles == model, f"the array took {cycles} cycles, the model says {model}"
