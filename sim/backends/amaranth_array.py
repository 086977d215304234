"""Run a GEMM on the array in Amaranth's own simulator."""

import time

from amaranth.hdl import Value

from ...rtl.array import make_array
from ..model import gemm_cycles
from ..tiling import GemmRun, array_feed
from ..errors import SimulationError

__all__ = ["run_array_gemm"]

#: The simulated clock. Only cycles are counted; the period just labels waveforms.
CLOCK_PERIOD_S = 10e-9


def simulate(dut, testbench, *, started, vcd=None):
    """Run ``testbench`` on ``dut`` in Amaranth's simulator with a :data:`CLOCK_PERIOD_S`
    clock, writing a VCD file to ``vcd`` if given. Returns ``(build_s, wall_s)``: the seconds
    from ``started`` (a ``time.perf_counter()``) to the run, and the run's own.

    The engine's runner (:mod:`.amaranth_engine`) runs the same way."""
    from amaranth.sim import Simulator
    sim = Simulator(dut)
    sim.add_clock(CLOCK_PERIOD_S)
    sim.add_testbench(testbench)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    if vcd is not None:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()
    return build_s, time.perf_counter() - started


def run_array_gemm(config, a, b, *, vcd=None):
    """Compute ``A @ B`` on a simulated array of ``config``'s dataflow
    (:func:`~systolic.rtl.array.make_array`), one pass per tile (:func:`~..tiling.array_feed`).

    A testbench offers a beat every cycle, takes every result row, and counts cycles from
    the first accepted beat to the last result row.

    Parameters
    ----------
    config : ArrayConfig
    a, b : array_like of int
        M x K and K x N operands in the configured ranges.
    vcd : path-like, optional
        Write a waveform of the run here.

    Returns
    -------
    GemmRun
    """
    started = time.perf_counter()
    feed = array_feed(a, b, config)
    beats, expected_rows = feed.beats, feed.rows
    # A hang must end in an error: allow twice the model's figure plus slack.
    budget = 2 * gemm_cycles(len(a), len(b), len(b[0]), config) + 100

    dut = make_array(config)
    in_payload = Value.cast(dut.i_stream.payload)
    out_payload = Value.cast(dut.o_stream.payload)
    rows = []
    span = {}

    async def testbench(ctx):
        index = 0
        cycle = 0
        while len(rows) < expected_rows:
            if cycle > budget:
                raise SimulationError(f"no result after {budget} cycles: "
                                      f"{len(rows)} of {expected_rows} rows seen")
            if index < len(beats):
                ctx.set(dut.i_stream.valid, 1)
                ctx.set(in_payload, beats[index])
                if ctx.get(dut.i_stream.ready):
                    span.setdefault("first", cycle)
                    index += 1
            else:
                ctx.set(dut.i_stream.valid, 0)
            if ctx.get(dut.o_stream.valid):
                rows.append(ctx.get(out_payload))
                span["last"] = cycle
            await ctx.tick()
            cycle += 1

    build_s, wall_s = simulate(dut, testbench, started=started, vcd=vcd)
    return GemmRun(result=feed.assemble(rows), cycles=span["last"] - span["first"] + 1,
                   wall_s=wall_s, build_s=build_s, backend="amaranth")
