"""The stream across clock domains: every word once, in order, whatever the two clocks."""

import random

import pytest
from amaranth.hdl import ClockDomain, Module
from amaranth.sim import Simulator

from systolic.rtl.lib.stream_cdc import StreamCDC


def cross(words, *, i_period, o_period, send_prob, take_prob, seed):
    """Send ``words`` from a domain with ``i_period`` to one with ``o_period`` (seconds), with
    random valid and ready; return what came out."""
    m = Module()
    m.domains.src = ClockDomain()
    m.domains.dst = ClockDomain()
    m.submodules.dut = dut = StreamCDC(16, i_domain="src", o_domain="dst")
    rng = random.Random(seed)
    got = []

    async def producer(ctx):
        for word in words:
            while rng.random() >= send_prob:
                await ctx.tick("src")
            ctx.set(dut.i_stream.valid, 1)
            ctx.set(dut.i_stream.payload, word)
            await ctx.tick("src").until(dut.i_stream.ready)
            ctx.set(dut.i_stream.valid, 0)

    async def consumer(ctx):
        while len(got) < len(words):
            ready = rng.random() < take_prob
            ctx.set(dut.o_stream.ready, ready)
            await ctx.tick("dst")
        ctx.set(dut.o_stream.ready, 0)

    async def monitor(ctx):
        async for _, _, valid, ready, payload in ctx.tick("dst").sample(
                dut.o_stream.valid, dut.o_stream.ready, dut.o_stream.payload):
            if valid and ready:
                got.append(payload)
            if len(got) == len(words):
                return

    sim = Simulator(m)
    sim.add_clock(i_period, domain="src")
    sim.add_clock(o_period, domain="dst")
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(monitor)
    sim.run_until(len(words) * 20 * max(i_period, o_period) / min(send_prob, take_prob))
    return got


@pytest.mark.parametrize("i_period, o_period", [(40e-9, 6.7e-9), (6.7e-9, 40e-9), (7e-9, 9e-9)],
                         ids=["slow-to-fast", "fast-to-slow", "near"])
@pytest.mark.parametrize("send_prob, take_prob", [(1, 1), (0.4, 1), (1, 0.3)])
def test_every_word_once_in_order(i_period, o_period, send_prob, take_prob):
    words = [random.Random(7).randrange(1 << 16) for _ in range(60)]
    got = cross(words, i_period=i_period, o_period=o_period, send_prob=send_prob,
                take_prob=take_prob, seed=int(send_prob * 10 + take_prob * 100))
    assert got == words
