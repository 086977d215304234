"""RTL versus model on the Amaranth simulator: results bit for bit, cycle counts exactly."""

import itertools
import zlib

import numpy as np
import pytest
from amaranth.hdl import Cat
from hypothesis import given, settings, strategies as st, HealthCheck

import systolic.rtl.array as array_module
from systolic.rtl.config import ArrayConfig
from systolic.rtl.pe import ProcessingElement
from systolic.sim.backends.amaranth_array import run_array_gemm
from systolic.sim.model import matmul, gemm_cycles


def random_operands(config, m, k, n, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(*config.a_range, size=(m, k), endpoint=True)
    b = rng.integers(*config.b_range, size=(k, n), endpoint=True)
    return a, b


def check(config, a, b):
    run = run_array_gemm(config, a, b)
    expected = matmul(a, b, config)
    assert run.result.shape == expected.shape
    mismatches = np.argwhere(run.result != expected)
    assert len(mismatches) == 0, (
        f"{len(mismatches)} mismatches, first at {tuple(mismatches[0])}: "
        f"rtl {run.result[tuple(mismatches[0])]} != model {expected[tuple(mismatches[0])]}")
    assert run.cycles == gemm_cycles(a.shape[0], a.shape[1], b.shape[1], config)
    return run


SHAPES = [(1, 1), (2, 3), (3, 5), (4, 4), (8, 8)]
NUMBER_FORMATS = list(itertools.product([4, 8, 16], [True, False], ["wrap", "saturate"]))


@pytest.mark.parametrize("rows, cols", SHAPES)
@pytest.mark.parametrize("width, signed, overflow", NUMBER_FORMATS)
def test_random_gemm(rows, cols, width, signed, overflow):
    config = ArrayConfig(rows=rows, cols=cols, a_width=width, b_width=width, signed=signed,
                         overflow=overflow)
    seed = zlib.crc32(repr((rows, cols, width, signed, overflow)).encode())
    # Odd sizes leave partial tiles at the right and bottom; K spans 1 to 64 over the set.
    k = [1, 2, 5, 17, 64][SHAPES.index((rows, cols))]
    a, b = random_operands(config, rows + 1, k, 2 * cols - 1, seed)
    check(config, a, b)


@pytest.mark.parametrize("k", [1, 2, 3, 8, 33, 64])
def test_k_range_on_3x5(k):
    config = ArrayConfig(rows=3, cols=5)
    check(config, *random_operands(config, 7, k, 11, seed=k))


def test_mixed_operand_widths():
    config = ArrayConfig(rows=2, cols=3, a_width=5, b_width=12, signed=True)
    check(config, *random_operands(config, 4, 9, 6, seed=3))


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("corner", ["min*min", "max*min", "max*max"])
def test_extreme_corners_overflow_a_narrow_accumulator(signed, overflow, corner):
    # The narrowest legal accumulator holds one product; a 40-deep run of extreme products
    # overflows it many times, so wrap and saturate both get exercised at their edges.
    config = ArrayConfig(rows=2, cols=2, a_width=8, b_width=8, signed=signed, overflow=overflow,
                         acc_width=16)
    (a_lo, a_hi), (b_lo, b_hi) = config.a_range, config.b_range
    a_value, b_value = {"min*min": (a_lo, b_lo), "max*min": (a_hi, b_lo), "max*max": (a_hi, b_hi)}[corner]
    a = np.full((3, 40), a_value)
    b = np.full((40, 3), b_value)
    run = check(config, a, b)
    lo, hi = config.acc_range
    if overflow == "saturate" and a_value * b_value > 0:
        assert (run.result == hi).all()
    elif overflow == "saturate" and a_value * b_value < 0:
        assert (run.result == lo).all()


def test_alternating_signs_saturate_in_order():
    config = ArrayConfig(rows=2, cols=2, signed=True, overflow="saturate", acc_width=16)
    a = np.array([[-128, -128, -128, 127] * 4] * 2)
    b = np.array([[-128, 127]] * 16)
    check(config, a, b)


class CarryDroppingPE(ProcessingElement):
    """A deliberately broken PE: the carry out of the low 4 bits of the accumulator is lost."""

    def accumulate(self, acc, product):
        low = (acc[:4] + product[:4])[:4]
        high = acc.as_signed()[4:] + product.as_signed()[4:]
        return Cat(low, high).as_signed()


def test_a_broken_pe_is_caught(monkeypatch):
    monkeypatch.setattr(array_module, "ProcessingElement", CarryDroppingPE)
    config = ArrayConfig(rows=2, cols=3)
    a, b = random_operands(config, 4, 16, 6, seed=11)
    run = run_array_gemm(config, a, b)
    assert not np.array_equal(run.result, matmul(a, b, config))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_property_random_configs_and_shapes(data):
    width_a = data.draw(st.integers(2, 16), label="a_width")
    width_b = data.draw(st.integers(2, 16), label="b_width")
    signed = data.draw(st.booleans(), label="signed")
    probe = ArrayConfig(a_width=width_a, b_width=width_b, signed=signed)
    acc_width = data.draw(st.one_of(st.none(), st.integers(probe.product_width, probe.product_width + 6)),
                          label="acc_width")
    config = ArrayConfig(rows=data.draw(st.integers(1, 5), label="rows"),
                         cols=data.draw(st.integers(1, 5), label="cols"),
                         a_width=width_a, b_width=width_b, signed=signed, acc_width=acc_width,
                         overflow=data.draw(st.sampled_from(["wrap", "saturate"]), label="overflow"))
    m, k, n = (data.draw(st.integers(1, 9), label=name) for name in "mkn")
    a = np.array(data.draw(st.lists(st.lists(st.integers(*config.a_range), min_size=k, max_size=k),
                                    min_size=m, max_size=m), label="A"))
    b = np.array(data.draw(st.lists(st.lists(st.integers(*config.b_range), min_size=n, max_size=n),
                                    min_size=k, max_size=k), label="B"))
    check(config, a, b)
