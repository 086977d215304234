"""The numpy reference model on its own: against plain integer arithmetic and hand cases."""

import subprocess
import sys

import numpy as np
import pytest

from systolic.rtl.config import ArrayConfig
from systolic.sim.model import (OperandError, matmul, check_operands, schedule_passes,
                                array_cycles, gemm_cycles, ideal_cycles)


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
            "m.matmul(np.ones((2,2),int), np.ones((2,2),int), ArrayConfig());"
            "assert not any(n.startswith('amaranth') for n in sys.modules), 'amaranth imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
