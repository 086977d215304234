"""Run command words and whole GEMMs on the GEMM engine in Amaranth's simulator."""

import time
from dataclasses import dataclass


from ...rtl.engine.engine import GemmEngine
from ..engine_tiling import assemble_results, cycle_budget, gemm_program
from ..packing import unpack_beat
from ..tiling import GemmRun
from ..errors import SimulationError
from .amaranth_array import CLOCK_PERIOD_S, simulate

__all__ = ["EngineRun", "run_engine_words", "run_engine_gemm", "CLOCK_PERIOD_S"]


@dataclass
class EngineRun:
    """What the engine did with a stream of words in simulation.

    Attributes
    ----------
    accepted : list of int
        The cycle each input word was taken.
    outputs : list of (int, int)
        ``(cycle, word)`` of every output word (the words of one beat share its cycle).
    cycles : int
        Cycles simulated.
    wall_s, build_s : float
        Seconds of simulation proper, and of preparing it.
    """
    accepted: list
    outputs: list
    cycles: int
    wall_s: float
    build_s: float


def run_engine_words(config, words, *, beats, budget, tail=0, vcd=None):
    """Offer ``words`` to a simulated :class:`GemmEngine` back to back and collect its output.

    The testbench offers the next word on the cycle after one is taken and takes every output
    beat the cycle it appears (cycle 0 is the first cycle a word is offered). It stops once
    every word was taken, ``beats`` beats were seen and ``tail`` more cycles have passed
    (to catch beats that should not be there).

    Parameters
    ----------
    config : EngineConfig
    words : list of int
    beats : int
        Output beats to wait for.
    budget : int
        Cycles after which a run that has not finished raises :class:`SimulationError`.
    tail : int
    vcd : path-like, optional

    Returns
    -------
    EngineRun
    """
    started = time.perf_counter()
    words = [int(w) for w in words]
    dut = GemmEngine(config)
    accepted, seen = [], []
    state = {"cycle": 0}

    async def testbench(ctx):
        ctx.set(dut.o_stream.ready, 1)
        index = 0
        cycle = 0
        done_at = None
        while done_at is None or cycle < done_at + tail:
            if cycle > budget:
                raise SimulationError(f"engine still running after {budget} cycles: "
                                      f"{index} of {len(words)} words taken, "
                                      f"{len(seen)} of {beats} output beats seen")
            if index < len(words):
                ctx.set(dut.i_stream.valid, 1)
                ctx.set(dut.i_stream.payload, words[index])
                if ctx.get(dut.i_stream.ready):
                    accepted.append(cycle)
                    index += 1
            else:
                ctx.set(dut.i_stream.valid, 0)
            if ctx.get(dut.o_stream.valid):
                seen.append((cycle, ctx.get(dut.o_stream.payload.as_value())))
            if done_at is None and index == len(words) and len(seen) >= beats:
                done_at = cycle
            await ctx.tick()
            cycle += 1
        state["cycle"] = cycle

    build_s, wall_s = simulate(dut, testbench, started=started, vcd=vcd)
    outputs = [(cycle, word) for cycle, bits in seen for word in unpack_beat(bits, config)]
    return EngineRun(accepted=accepted, outputs=outputs, cycles=state["cycle"],
                     wall_s=wall_s, build_s=build_s)


def run_engine_gemm(engine_config, a, b, *, vcd=None, tiling=True):
    """Compute ``A @ B`` on a simulated :class:`GemmEngine`, host-tiled if needed.

    The host program (:func:`~..engine_tiling.gemm_program`) loads the operands, starts the
    jobs and reads the results as the engine streams them. ``cycles`` counts from the cycle the
    first START header is taken to the cycle of the last result word, both counted: the
    operands of the first job are loaded before, those of later jobs within.

    Parameters
    ----------
    engine_config : EngineConfig
    a, b : array_like of int
        M x K and K x N operands in the configured ranges.
    vcd : path-like, optional
        Write a waveform of the run here.
    tiling : bool
        Split a GEMM too big for the buffers into jobs; if False such a GEMM raises
        :class:`~..engine_tiling.JobError`.

    Returns
    -------
    GemmRun
    """
    started = time.perf_counter()
    program = gemm_program(a, b, engine_config, tiling=tiling)
    planned = time.perf_counter() - started
    run = run_engine_words(engine_config, program.words, beats=program.result_beats,
                           budget=cycle_budget(program, engine_config), vcd=vcd)
    words = [word for _, word in run.outputs]
    result = assemble_results(words, program, engine_config)
    cycles = run.outputs[-1][0] - run.accepted[program.first_start] + 1
    return GemmRun(result=result, cycles=cycles, wall_s=run.wall_s,
                   build_s=run.build_s + planned, backend="amaranth")
