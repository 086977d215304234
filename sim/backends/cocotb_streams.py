"""What the cocotb benches share: the job file in, the answer out, the clock and reset, and the
cycle loop that drives ``i_stream`` and watches ``o_stream``.

Both benches (:mod:`.cocotb_array_bench`, :mod:`.cocotb_engine_bench`) drive their design as the
Amaranth and compiled harnesses do, cycle for cycle: each cycle, right after the rising edge,
the bench drives ``valid`` and the payload, waits for the design to settle (``ready`` may depend
combinationally on the payload) and then samples the handshakes and the outputs: the values
the next rising edge acts on.
"""

import json
import os
import time

from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from ..errors import SimulationError
from .verilog_build import JOB_ENV

__all__ = ["RESET_CYCLES", "load_job", "write_answer", "answer_job", "reset", "run_streams"]

#: Clock cycles of reset before cycle 0.
RESET_CYCLES = 2


def load_job():
    """The job the host wrote for this run (the JSON file named by :data:`JOB_ENV`)."""
    with open(os.environ[JOB_ENV]) as f:
        return json.load(f)


def write_answer(path, data):
    """Write ``data`` as JSON to ``path`` whole."""
    # Write then rename: the host never reads half a file, even if the simulator dies.
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


async def answer_job(job, drive, answer):
    """Await ``drive`` and write ``answer(its result, loop seconds)`` to the job's ``out`` file;
    a :class:`SimulationError` is written as the answer's ``error`` and raised again. Returns
    the drive's result."""
    started = time.perf_counter()
    try:
        result = await drive
    except SimulationError as exc:
        write_answer(job["out"], {"error": str(exc)})
        raise
    write_answer(job["out"], answer(result, time.perf_counter() - started))
    return result


async def reset(dut, *, out_ready=None):
    """Start a 10 ns clock on ``dut.clk`` and hold ``dut.rst`` for :data:`RESET_CYCLES` cycles
    with ``i_stream`` idle (and ``o_stream.ready`` set to ``out_ready`` where the design has
    one)."""
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    dut.i_stream__valid.value = 0
    dut.i_stream__payload.value = 0
    if out_ready is not None:
        dut.o_stream__ready.value = out_ready
    for _ in range(RESET_CYCLES):
        await RisingEdge(dut.clk)
    dut.rst.value = 0


async def run_streams(dut, items, *, done, budget, hang, withhold=None, tail=0):
    """Offer ``items`` on ``i_stream`` in order and collect ``o_stream``'s payloads.

    Parameters
    ----------
    dut : cocotb handle
    items : list of int
        Payloads to offer, one at a time until each is taken.
    done : callable
        ``done(taken, outputs)``: whether the run is complete, asked after each cycle's
        sampling; ``tail`` more cycles run after it first says so.
    budget : int
        Cycles after which an unfinished run is a hang.
    hang : callable
        ``hang(taken, outputs)``: the :class:`SimulationError` message of a hang.
    withhold : callable or None
        Called each cycle there is an item to offer; true leaves ``valid`` low (a bubble).

    Returns
    -------
    accepted : list of int
        The cycle each item was taken.
    outputs : list of (int, int)
        ``(cycle, payload)`` of every ``o_stream`` beat.
    cycles : int
        Cycles run.
    """
    clk = dut.clk
    valid, payload, ready = dut.i_stream__valid, dut.i_stream__payload, dut.i_stream__ready
    out_valid, out_payload = dut.o_stream__valid, dut.o_stream__payload
    accepted, outputs = [], []
    cycle = 0
    done_at = None
    while done_at is None or cycle < done_at + tail:
        if cycle > budget:
            raise SimulationError(hang(len(accepted), outputs))
        index = len(accepted)
        offer = index < len(items) and not (withhold and withhold())
        valid.value = int(offer)
        if offer:
            payload.value = items[index]
        await ReadOnly()
        if offer and ready.value:
            accepted.append(cycle)
        if out_valid.value:
            outputs.append((cycle, out_payload.value.to_unsigned()))
        if done_at is None and done(len(accepted), outputs):
            done_at = cycle
        await RisingEdge(clk)
        cycle += 1
    valid.value = 0
    return accepted, outputs, cycle
