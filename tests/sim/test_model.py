"""The numpy reference model on its own: against plain integer arithmetic and hand cases."""

import subprocess
import sys

import numpy as np
import pytest

from systolic.rtl.config import ArrayConfig
from systolic.sim.model import (OperandError, matmul, check_operands, schedule_passes,
                                array_cycles, gemm_cycles, ideal_cycles, saturate, wrap)
from systolic.sim.ws_model import ws_partial_sums, ws_tile_origins


def test_exact_when_the_accumulator_is_wide_enough():
    config = ArrayConfig(a_width=8, b_width=8, signed=True, max_k=64)
    rng = np.random.default_rng(5)
    a = rng.integers(-128, 128, size=(9, 64))
    b = rng.integers(-128, 128, size=(64, 7))
    assert np.array_equal(matmul(a, b, config), a @ b)


def test_wrap_is_modular():
    config = ArrayConfig(a_width=8, b_width=8, signed=True, acc_width=16)
    a = np.full((1, 3), -128)
    b = np.full((3, 1), -128)
    # 3 * 16384 = 49152 wraps in 16 signed bits to 49152 - 65536.
    assert matmul(a, b, config)[0, 0] == 49152 - 65536


def test_saturate_clamps_each_step_in_order():
    config = ArrayConfig(a_width=8, b_width=8, signed=True, acc_width=16, overflow="saturate")
    # Steps: +16384, +16384 -> 32768 clamps to 32767, then -16256 -> 16511.
    a = np.array([[-128, -128, -128]])
    b = np.array([[-128], [-128], [127]])
    assert matmul(a, b, config)[0, 0] == 32767 - 16256
    # With the negative product first nothing clamps and the exact sum survives: order matters.
    assert matmul(a, b[[2, 0, 1]], config)[0, 0] == 2 * 16384 - 16256


def test_unsigned_saturates_at_the_top():
    config = ArrayConfig(a_width=4, b_width=4, signed=False, acc_width=8, overflow="saturate")
    a = np.full((1, 4), 15)
    b = np.full((4, 1), 15)
    assert matmul(a, b, config)[0, 0] == 255


def test_wide_accumulators_use_python_ints():
    config = ArrayConfig(a_width=32, b_width=32, signed=True, max_k=4)
    assert config.acc_width > 64
    a = np.full((1, 4), -(1 << 31))
    b = np.full((4, 1), -(1 << 31))
    assert matmul(a, b, config)[0, 0] == 4 * (1 << 62)


@pytest.mark.parametrize("a, b, message", [
    (np.zeros((2, 3), dtype=float), np.zeros((3, 2), dtype=int), "integer dtype"),
    (np.zeros((2, 3), dtype=int), np.zeros((4, 2), dtype=int), "inner dimensions"),
    (np.zeros((0, 3), dtype=int), np.zeros((3, 2), dtype=int), "empty"),
    (np.zeros(3, dtype=int), np.zeros((3, 2), dtype=int), "2-D"),
    (np.full((1, 1), 128), np.zeros((1, 1), dtype=int), r"outside the 8-bit signed operand range \[-128, 127\]"),
])
def test_bad_operands(a, b, message):
    with pytest.raises(OperandError, match=message):
        check_operands(a, b, ArrayConfig())


def test_cycle_model_hand_cases():
    config = ArrayConfig(rows=4, cols=4)     # spacing 4, latency 7
    # One pass of K=10: last beat in cycle 9, rows in cycles 16..19 -> 20 cycles.
    assert array_cycles([10], config) == 20
    # Back-to-back passes of K >= spacing never wait.
    assert [p.last_beat for p in schedule_passes([6, 6, 6], config)] == [5, 11, 17]
    # K=1 passes: each last beat waits for 4 cycles after the previous one.
    assert [p.last_beat for p in schedule_passes([1, 1, 1], config)] == [0, 4, 8]
    assert gemm_cycles(8, 6, 8, config) == 4 * 6 + 4 + 4 + 2
    assert ideal_cycles(8, 6, 8, config) == 8 * 8 * 6 / 16


def test_model_needs_no_amaranth():
    code = ("import sys, numpy as np; import systolic.sim.model as m; from systolic.rtl.config import ArrayConfig;"
            "import systolic.sim.ws_tiling as w;"
            "m.matmul(np.ones((2,2),int), np.ones((2,2),int), ArrayConfig());"
            "w.ws_gemm_beats(np.ones((2,3),int), np.ones((3,2),int), ArrayConfig(dataflow='weight-stationary'));"
            "assert not any(n.startswith('amaranth') for n in sys.modules), 'amaranth imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# Weight-stationary ---------------------------------------------------------------------------

WS = "weight-stationary"


def test_ws_timing_parameters_hand_cases():
    config = ArrayConfig(rows=4, cols=4, dataflow=WS)
    # The last PE (3, 3) takes its weight 3 + 3 cycles after a pass's first row; the next
    # tile's 4 weight rows follow from then on, the last a cycle before the next first row.
    assert config.weight_load_delay == 6
    assert config.min_pass_spacing == 6 + 4 == 2 * 4 + 4 - 2
    # Row skew and walk 3 + 3, operand, product and partial-sum registers: 9 cycles.
    assert config.result_latency == 9
    piped = ArrayConfig(rows=4, cols=4, dataflow=WS, pipeline=1)
    assert (piped.min_pass_spacing, piped.result_latency) == (10, 11)
    assert ArrayConfig(rows=1, cols=1, dataflow=WS).min_pass_spacing == 1


def test_ws_cycle_model_hand_cases():
    config = ArrayConfig(rows=4, cols=4, dataflow=WS)     # spacing 10, latency 9
    # Beats 0..3 load the first tile; passes of M >= 10 rows follow back to back.
    assert [p.first_beat for p in schedule_passes([12, 12, 12], config)] == [4, 16, 28]
    # Passes of 8 rows: a pass every 10 beats (2 beats that only load weights).
    passes = schedule_passes([8, 8], config)
    assert [(p.first_beat, p.last_beat, p.first_row, p.last_row) for p in passes] == [
        (4, 11, 13, 20), (14, 21, 23, 30)]
    # 8x6x8: two K tiles by two N tiles, four passes of 8 rows: the last row leaves on cycle
    # 4 + 3 * 10 + 7 + 9 = 50.
    assert gemm_cycles(8, 6, 8, config) == 51 == array_cycles([8] * 4, config)


@pytest.mark.parametrize("overflow, acc_width", [("wrap", 16), ("saturate", 16), ("wrap", None)])
def test_ws_partial_sums_continue_tile_by_tile(overflow, acc_width):
    # Each pass continues the one before in its column of tiles, and the last K tile's sums
    # are matmul's: the dataflows give the same bits, saturating step by step in k.
    config = ArrayConfig(rows=3, cols=2, overflow=overflow, acc_width=acc_width, dataflow=WS)
    rng = np.random.default_rng(8)
    a = rng.integers(-128, 128, size=(5, 10))
    b = rng.integers(-128, 128, size=(10, 3))
    sums = ws_partial_sums(a, b, config)
    origins = ws_tile_origins(10, 3, config)
    assert origins == [(0, 0), (3, 0), (6, 0), (9, 0), (0, 2), (3, 2), (6, 2), (9, 2)]
    for (k0, n0), (before, after) in zip(origins, sums):
        # Independently: a numpy loop over the tile's k, one clamp (or wrap) a step.
        expected = np.array(before, dtype=object)
        for k in range(k0, min(k0 + 3, 10)):
            w = np.zeros(2, dtype=object)
            w[:min(2, 3 - n0)] = b[k, n0:n0 + 2]
            expected = expected + np.outer(a[:, k].astype(object), w)
            expected = (saturate(expected, *config.acc_range) if overflow == "saturate"
                        else wrap(expected, config.acc_width, True))
        assert np.array_equal(after, expected)
    final = np.hstack([sums[3][1], sums[7][1]])[:, :3]
    assert np.array_equal(final, matmul(a, b, config))
    assert np.array_equal(final, matmul(a, b, ArrayConfig(rows=3, cols=2, overflow=overflow,
                                                         acc_width=acc_width)))
