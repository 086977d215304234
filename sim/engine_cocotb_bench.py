"""cocotb testbench of the GEMM engine's Verilog (``to_verilog(GemmEngine(config), "gemm_engine")``).

The simulator loads this module by its package name, ``systolic.sim.engine_cocotb_bench``; it is
not meant to be imported otherwise. The job file named by
:data:`~systolic.sim.verilog_build.JOB_ENV` holds:

``words``
    The input words, as hex strings.
``beats``
    Output beats to wait for.
``budget``
    Cycles after which an unfinished run is a hang.
``tail``
    Cycles to go on after the last expected output (to catch words that should not be there).
``out``
    Where the bench writes ``accepted`` (the cycle each input word was taken), ``beats``
    (``[cycle, hex beat]`` pairs), ``cycles`` and ``loop_s``, or ``error``.

The bench drives the engine exactly like the Amaranth harness
(:func:`systolic.sim.engine_sim.run_engine_words`) and the compiled Verilator harness
(``harness/engine_harness.cpp``): cycle 0 is the first after reset, a word is offered on every
cycle until all are taken, and every output beat is taken on the cycle it appears.
"""

import json
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from .tiling import SimulationError
from .verilog_build import JOB_ENV

#: Clock cycles of reset before cycle 0.
RESET_CYCLES = 2


def _write_out(path, data):
    # Write then rename: the host never reads half a file, even if the simulator dies.
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


async def drive_words(dut, words, beats, budget, tail=0):
    """Offer ``words`` to the engine back to back and collect its output beats.

    Each cycle, right after the rising edge, the bench drives ``valid`` and the payload,
    waits for the design to settle (``ready`` is combinational) and then samples the
    handshakes: the values the next rising edge acts on.

    Parameters
    ----------
    dut : cocotb handle
        The ``gemm_engine`` top level.
    words : list of int
    beats : int
        Output beats to wait for.
    budget : int
        Cycles after which an unfinished run raises :class:`SimulationError`.
    tail : int
        Cycles to go on after the last expected output beat.

    Returns
    -------
    accepted : list of int
        The cycle each input word was taken.
    seen : list of (int, int)
        ``(cycle, beat)`` of every output beat.
    cycles : int
        Cycles run.
    """
    clk = dut.clk
    valid, payload, ready = dut.i_stream__valid, dut.i_stream__payload, dut.i_stream__ready
    out_valid, out_payload = dut.o_stream__valid, dut.o_stream__payload

    Clock(clk, 10, unit="ns").start()
    dut.rst.value = 1
    valid.value = 0
    payload.value = 0
    dut.o_stream__ready.value = 1
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    dut.rst.value = 0

    accepted, seen = [], []
    index = 0
    cycle = 0
    done_at = None
    while done_at is None or cycle < done_at + tail:
        if cycle > budget:
            raise SimulationError(f"engine still running after {budget} cycles: "
                                  f"{index} of {len(words)} words taken, "
                                  f"{len(seen)} of {beats} output beats seen")
        offer = index < len(words)
        valid.value = int(offer)
        if offer:
            payload.value = words[index]
        await ReadOnly()
        if offer and ready.value:
            accepted.append(cycle)
            index += 1
        if out_valid.value:
            seen.append((cycle, out_payload.value.to_unsigned()))
        if done_at is None and index == len(words) and len(seen) >= beats:
            done_at = cycle
        await RisingEdge(clk)
        cycle += 1
    valid.value = 0
    return accepted, seen, cycle


@cocotb.test()
async def engine_words(dut):
    """Run the job's words on the engine and write down what it took and gave."""
    with open(os.environ[JOB_ENV]) as f:
        job = json.load(f)
    words = [int(word, 16) for word in job["words"]]
    started = time.perf_counter()
    try:
        accepted, seen, cycles = await drive_words(dut, words, job["beats"], job["budget"],
                                                   job.get("tail", 0))
    except SimulationError as exc:
        _write_out(job["out"], {"error": str(exc)})
        raise
    _write_out(job["out"], {"accepted": accepted,
                            "beats": [[cycle, format(beat, "x")] for cycle, beat in seen],
                            "cycles": cycles, "loop_s": time.perf_counter() - started})
