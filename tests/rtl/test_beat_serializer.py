"""The beat serializer: every word of every beat once, in order, without gaps."""

import random

import pytest
from amaranth.sim import Simulator

from systolic.rtl.engine.beat_serializer import BeatSerializer
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig


def serialize(config, beats, send_prob, take_prob, seed):
    """Push ``beats`` (lists of words) through a serializer with random valid and ready; return
    the words that came out and the cycles the sink ran."""
    dut = BeatSerializer(config)
    rng = random.Random(seed)
    expected = sum(len(beat) for beat in beats)
    got, cycles = [], []

    async def source(ctx):
        for beat in beats:
            ctx.set(dut.i_stream.payload, {"data": beat + [0] * (config.array.cols - len(beat)),
                                           "count": len(beat)})
            while rng.random() >= send_prob:
                ctx.set(dut.i_stream.valid, 0)
                await ctx.tick()
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def sink(ctx):
        count = 0
        while len(got) < expected:
            ready = rng.random() < take_prob
            ctx.set(dut.o_stream.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o_stream.valid,
                                                          dut.o_stream.payload)
            count += 1
            if valid and ready:
                got.append(payload)
        cycles.append(count)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return got, cycles[0]


def random_beats(cols, seed, count=60):
    rng = random.Random(seed)
    return [[rng.randrange(1 << 32) for _ in range(rng.randint(1, cols))] for _ in range(count)]


@pytest.mark.parametrize("cols", [1, 2, 5])
@pytest.mark.parametrize("send_prob, take_prob", [(1, 1), (1, 0.3), (0.3, 1), (0.6, 0.6)])
def test_every_word_once_in_order(cols, send_prob, take_prob):
    config = EngineConfig(ArrayConfig(rows=2, cols=cols))
    beats = random_beats(cols, cols * 10 + int(take_prob * 10))
    got, _ = serialize(config, beats, send_prob, take_prob, cols)
    assert got == [word for beat in beats for word in beat]


def test_full_beats_leave_a_word_every_cycle():
    config = EngineConfig(ArrayConfig(rows=2, cols=4))
    beats = [[4 * b + j for j in range(4)] for b in range(25)]
    got, cycles = serialize(config, beats, 1, 1, 0)
    assert got == list(range(100))
    # One cycle to the first word, then one word a cycle.
    assert cycles == 101
