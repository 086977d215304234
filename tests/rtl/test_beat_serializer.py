"""The beat serializer: every word of every beat once, in order, a word every other cycle."""

import random

import pytest
from amaranth.back import rtlil

from conftest import FamilyPlatform, stream_through
from systolic.rtl.engine.beat_serializer import BeatSerializer
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig


def serialize(config, beats, send_prob, take_prob, seed):
    """Push ``beats`` (lists of words) through a serializer with random valid and ready; return
    the words that came out and the cycles the sink ran."""
    payloads = [{"data": beat + [0] * (config.array.cols - len(beat)), "count": len(beat)}
                for beat in beats]
    return stream_through(BeatSerializer(config), payloads, sum(len(beat) for beat in beats),
                          send_prob=send_prob, take_prob=take_prob, seed=seed)


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


def test_full_beats_leave_a_word_every_other_cycle():
    config = EngineConfig(ArrayConfig(rows=2, cols=4))
    beats = [[4 * b + j for j in range(4)] for b in range(25)]
    got, cycles = serialize(config, beats, 1, 1, 0)
    assert got == list(range(100))
    # A beat is taken on the cycle after its predecessor's last word left, and its words
    # follow two cycles later and then every other cycle.
    assert cycles == 25 * (2 * 4 + 1)


@pytest.mark.parametrize("cols", [1, 5, 16])
def test_every_word_has_its_own_enables_on_ecp5(cols):
    # Per word: the load-or-move select and the clock enable, both set out of reset (the
    # register follows the input while it is empty).
    text = rtlil.convert(BeatSerializer(EngineConfig(ArrayConfig(rows=2, cols=cols))),
                         platform=FamilyPlatform("ecp5"), emit_src=False)
    assert text.count("cell \\TRELLIS_FF") == 2 * cols
    assert text.count('parameter \\REGSET "SET"') == 2 * cols
