"""The stream register slice: order, no loss, full rate, and no combinational path across."""

import random

import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from conftest import stream_through
from systolic.rtl.lib.stream_register import StreamRegister


def transfer(beats, send_prob, take_prob, seed):
    """Push ``beats`` through a register with random valid and ready; return what came out
    and the cycles it took."""
    return stream_through(StreamRegister(16), beats, len(beats), send_prob=send_prob,
                          take_prob=take_prob, seed=seed)


@pytest.mark.parametrize("send_prob, take_prob", [(1, 1), (1, 0.3), (0.3, 1), (0.6, 0.6)])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_beat_once_in_order(send_prob, take_prob, seed):
    beats = [random.Random(seed).randrange(1 << 16) for _ in range(200)]
    got, _ = transfer(beats, send_prob, take_prob, seed)
    assert got == beats


def test_full_rate_with_one_cycle_latency():
    beats = list(range(100))
    got, cycles = transfer(beats, 1, 1, 0)
    assert got == beats
    assert cycles == len(beats) + 1


def test_no_combinational_path_from_output_ready_to_input_ready():
    # i_stream.ready must be a register output: drive o_stream.ready and watch it not move
    # within the cycle.
    dut = StreamRegister(8)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.i_stream.valid, 1)
        ctx.set(dut.o_stream.ready, 0)
        await ctx.tick().repeat(3)          # output full, skid full: input not ready
        seen.append(ctx.get(dut.i_stream.ready))
        ctx.set(dut.o_stream.ready, 1)      # same cycle: ready in must not follow yet
        seen.append(ctx.get(dut.i_stream.ready))
        await ctx.tick()
        seen.append(ctx.get(dut.i_stream.ready))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [0, 0, 1]
    Fragment.get(dut, None)     # elaborates without a platform
