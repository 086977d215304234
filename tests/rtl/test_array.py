"""RTL versus model on the Amaranth simulator: results bit for bit, cycle counts exactly.

Every case runs on both dataflows' arrays (the ``dataflow`` fixture): the same GEMM must give
the same bits, each in its own model's cycle count.
"""

import itertools
import zlib

import numpy as np
import pytest
from amaranth.hdl import Cat
from hypothesis import given, settings, strategies as st, HealthCheck

import systolic.rtl.array as array_module
import systolic.rtl.ws_array as ws_array_module
from systolic.rtl.config import DATAFLOWS, ArrayConfig
from systolic.rtl.pe import ProcessingElement
from systolic.rtl.ws_pe import WSProcessingElement
from systolic.sim.backends.amaranth_array import run_array_gemm
from systolic.sim.errors import SimulationError
from systolic.sim.model import matmul, gemm_cycles


@pytest.fixture(params=DATAFLOWS)
def dataflow(request):
    """Each dataflow's array in turn."""
    return request.param


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
def test_random_gemm(rows, cols, width, signed, overflow, dataflow):
    config = ArrayConfig(rows=rows, cols=cols, a_width=width, b_width=width, signed=signed,
                         overflow=overflow, dataflow=dataflow)
    seed = zlib.crc32(repr((rows, cols, width, signed, overflow)).encode())
    # Odd sizes leave partial tiles at the right and bottom; K spans 1 to 64 over the set.
    k = [1, 2, 5, 17, 64][SHAPES.index((rows, cols))]
    a, b = random_operands(config, rows + 1, k, 2 * cols - 1, seed)
    check(config, a, b)


@pytest.mark.parametrize("k", [1, 2, 3, 8, 33, 64])
def test_k_range_on_3x5(k, dataflow):
    # Weight-stationary: K from under one tile of rows to many, so from one pass to eleven
    # a column of tiles, each continuing the partial sums of the one before.
    config = ArrayConfig(rows=3, cols=5, dataflow=dataflow)
    check(config, *random_operands(config, 7, k, 11, seed=k))


def test_mixed_operand_widths(dataflow):
    config = ArrayConfig(rows=2, cols=3, a_width=5, b_width=12, signed=True, dataflow=dataflow)
    check(config, *random_operands(config, 4, 9, 6, seed=3))


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("corner", ["min*min", "max*min", "max*max"])
def test_extreme_corners_overflow_a_narrow_accumulator(signed, overflow, corner, dataflow):
    # The narrowest legal accumulator holds one product; a 40-deep run of extreme products
    # overflows it many times, so wrap and saturate both get exercised at their edges.
    config = ArrayConfig(rows=2, cols=2, a_width=8, b_width=8, signed=signed, overflow=overflow,
                         acc_width=16, dataflow=dataflow)
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


def test_alternating_signs_saturate_in_order(dataflow):
    # Saturation is step by step in k on both dataflows; weight-stationary clamps in a column
    # of PEs and across the passes of the K tiles.
    config = ArrayConfig(rows=2, cols=2, signed=True, overflow="saturate", acc_width=16,
                         dataflow=dataflow)
    a = np.array([[-128, -128, -128, 127] * 4] * 2)
    b = np.array([[-128, 127]] * 16)
    check(config, a, b)


def drop_carry(acc, product):
    """The sum of a deliberately broken PE: the carry out of the low 4 bits is lost."""
    low = (acc[:4] + product[:4])[:4]
    high = acc.as_signed()[4:] + product.as_signed()[4:]
    return Cat(low, high).as_signed()


class CarryDroppingPE(ProcessingElement):
    def accumulate(self, acc, product):
        return drop_carry(acc, product)


class CarryDroppingWSPE(WSProcessingElement):
    def accumulate(self, psum, product):
        return drop_carry(psum, product)


# Weight-stationary: K within one weight tile, so that the result rows are the broken PEs'
# sums themselves (over more tiles the harness refuses the first wrong partial sum).
@pytest.mark.parametrize("dataflow, module, name, broken, k", [
    ("output-stationary", array_module, "ProcessingElement", CarryDroppingPE, 16),
    ("weight-stationary", ws_array_module, "WSProcessingElement", CarryDroppingWSPE, 2),
])
def test_a_broken_pe_is_caught(monkeypatch, dataflow, module, name, broken, k):
    monkeypatch.setattr(module, name, broken)
    config = ArrayConfig(rows=2, cols=3, dataflow=dataflow)
    a, b = random_operands(config, 4, k, 6, seed=11)
    run = run_array_gemm(config, a, b)
    assert not np.array_equal(run.result, matmul(a, b, config))


def test_a_broken_pe_is_caught_in_a_partial_sum(monkeypatch):
    # Weight-stationary over several K tiles: the bare array's harness feeds each pass the
    # model's partial sums, so it must hold every pass's rows to the model, not only the last.
    monkeypatch.setattr(ws_array_module, "WSProcessingElement", CarryDroppingWSPE)
    config = ArrayConfig(rows=2, cols=3, dataflow="weight-stationary")
    a, b = random_operands(config, 4, 16, 6, seed=11)
    with pytest.raises(SimulationError, match="partial sum"):
        run_array_gemm(config, a, b)


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
                         overflow=data.draw(st.sampled_from(["wrap", "saturate"]), label="overflow"),
                         dataflow=data.draw(st.sampled_from(DATAFLOWS), label="dataflow"))
    m, k, n = (data.draw(st.integers(1, 9), label=name) for name in "mkn")
    a = np.array(data.draw(st.lists(st.lists(st.integers(*config.a_range), min_size=k, max_size=k),
                                    min_size=m, max_size=m), label="A"))
    b = np.array(data.draw(st.lists(st.lists(st.integers(*config.b_range), min_size=n, max_size=n),
                                    min_size=k, max_size=k), label="B"))
    check(config, a, b)
