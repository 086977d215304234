"""cocotb testbench of the GEMM engine's Verilog (``to_verilog(GemmEngine(config), "gemm_engine")``).

The simulator loads this module by its package name, ``systolic.sim.backends.cocotb_engine_bench``; it is
not meant to be imported otherwise. The job file named by
:data:`~systolic.sim.backends.verilog_build.JOB_ENV` holds:

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
(:func:`systolic.sim.backends.amaranth_engine.run_engine_words`) and the compiled Verilator harness
(``harness/engine_harness.cpp``): cycle 0 is the first after reset, a word is offered on every
cycle until all are taken, and every output beat is taken on the cycle it appears.
"""

import cocotb

from .cocotb_streams import answer_job, load_job, reset, run_streams


async def drive_words(dut, words, beats, budget, tail=0):
    """Offer ``words`` to the engine back to back and collect its output beats
    (:func:`~.cocotb_streams.run_streams`, ``o_stream.ready`` held high).

    Parameters
    ----------
    dut : cocotb handle
        The ``gemm_engine`` top level.
    words : list of int
    beats : int
        Output beats to wait for.
    budget : int
        Cycles after which an unfinished run raises :class:`~systolic.sim.errors.SimulationError`.
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
    await reset(dut, out_ready=1)
    return await run_streams(
        dut, words, budget=budget, tail=tail,
        done=lambda taken, seen: taken == len(words) and len(seen) >= beats,
        hang=lambda taken, seen: (f"engine still running after {budget} cycles: "
                                  f"{taken} of {len(words)} words taken, "
                                  f"{len(seen)} of {beats} output beats seen"))


@cocotb.test()
async def engine_words(dut):
    """Run the job's words on the engine and write down what it took and gave."""
    job = load_job()
    words = [int(word, 16) for word in job["words"]]
    await answer_job(
        job, drive_words(dut, words, job["beats"], job["budget"], job.get("tail", 0)),
        lambda run, loop_s: {"accepted": run[0],
                             "beats": [[cycle, format(beat, "x")] for cycle, beat in run[1]],
                             "cycles": run[2], "loop_s": loop_s})
