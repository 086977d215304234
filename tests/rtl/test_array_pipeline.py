"""The pipelined array (``ArrayConfig.pipeline=1``) against the models: bit and cycle exact.

The extra product register and result mux level change only when results appear, which
``config.result_latency`` must say exactly: the array's model, the engine (which sizes its
result path from the latency) and the Verilog all have to agree with the RTL.
"""

import zlib
from pathlib import Path

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Module

from conftest import FamilyPlatform
from systolic.rtl.array import make_array
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.sim.backends.runner import run_gemm
from systolic.sim.backends.verilator_tools import locate_verilator

from test_array import check, dataflow, random_operands  # noqa: F401 (dataflow: a fixture)
from test_engine import check_gemm

#: Verilog builds, in the cache the other Verilator suites use.
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "test-cocotb"


# Row counts 1, 3 (groups of 2 + 1), 4 (2 + 2) and 7 (3 + 3 + 1) give one, uneven and even
# result-mux groups; a single column has no done delay, five columns a long one.
@pytest.mark.parametrize("rows, cols", [(1, 1), (3, 5), (4, 4), (7, 2), (2, 6)])
@pytest.mark.parametrize("signed, overflow", [(True, "wrap"), (False, "saturate"),
                                              (True, "saturate"), (False, "wrap")])
def test_random_gemm_pipelined(rows, cols, signed, overflow, dataflow):
    config = ArrayConfig(rows=rows, cols=cols, signed=signed, overflow=overflow, pipeline=1,
                         acc_width=18, dataflow=dataflow)
    seed = zlib.crc32(repr((rows, cols, signed, overflow)).encode())
    # Several tiles a GEMM: passes follow back to back; K=20 overflows the 18-bit accumulator.
    a, b = random_operands(config, 2 * rows + 1, 20, 2 * cols, seed)
    check(config, a, b)


@pytest.mark.parametrize("k", [1, 2, 4, 5, 9])
def test_short_passes_wait_for_the_spacing(k, dataflow):
    # Output-stationary: passes shorter than min_pass_spacing are held at their last beat; the
    # pipelined mux must still see at most one row finish a cycle. Weight-stationary: passes
    # of k rows, shorter than the spacing, are followed by beats that only load weights.
    config = ArrayConfig(rows=4, cols=5, pipeline=1, dataflow=dataflow)
    m, k = (k, 9) if config.weight_stationary else (9, k)
    check(config, *random_operands(config, m, k, 11, seed=k))


# Output-stationary: input register, product register, first result mux level; the
# weight-stationary array has no result mux.
@pytest.mark.parametrize("dataflow, longer", [("output-stationary", 3), ("weight-stationary", 2)])
def test_latency_is_longer_by_the_stages(dataflow, longer):
    plain = ArrayConfig(rows=3, cols=4, dataflow=dataflow)
    piped = ArrayConfig(rows=3, cols=4, pipeline=1, dataflow=dataflow)
    a, b = random_operands(plain, 3, 3, 4, seed=5)
    # One pass: the run is latency-bound, so the pipelined one is exactly that much longer.
    assert check(piped, a, b).cycles == check(plain, a, b).cycles + longer


def test_engine_with_a_pipelined_array_matches_its_model():
    config = EngineConfig(ArrayConfig(rows=3, cols=5, pipeline=1), k_depth=16, m_blocks=3,
                          n_blocks=2)
    rng = np.random.default_rng(7)
    a = rng.integers(*config.array.a_range, (8, 21), endpoint=True)
    b = rng.integers(*config.array.b_range, (21, 12), endpoint=True)
    check_gemm(config, a, b)


@pytest.mark.skipif(locate_verilator() is None, reason="Verilator is not installed")
def test_verilator_pipelined(dataflow):
    config = ArrayConfig(rows=3, cols=4, signed=False, overflow="saturate", acc_width=17,
                         pipeline=1, dataflow=dataflow)
    a, b = random_operands(config, 7, 12, 9, seed=21)
    run = run_gemm(config, a, b, backend="verilator")
    reference = check(config, a, b)
    assert np.array_equal(run.result, reference.result)
    assert run.cycles == reference.cycles


@pytest.mark.parametrize("dataflow, pipeline, kept", [
    ("output-stationary", 0, 0), ("output-stationary", 1, 2 * 3 * 7 + 2 * (2 + 1 + 0)),
    ("weight-stationary", 0, 0), ("weight-stationary", 1, 2 * 3 * 2),
])
def test_control_flags_are_kept_apart_on_ecp5(dataflow, pipeline, kept):
    # Output-stationary, per PE: valid and last out, the product's valid and last twice, done;
    # per row the done delays of the result mux, 2 + 1 + 0 over three columns.
    # Weight-stationary, per PE: valid and first out. None without pipelining, where the
    # array is what it always was. Every PE multiplies in a MULT18X18D of its own.
    m = Module()
    m.submodules.array = make_array(ArrayConfig(rows=2, cols=3, pipeline=pipeline,
                                                dataflow=dataflow))
    text = rtlil.convert(Fragment.get(m, FamilyPlatform("ecp5")), ports=[], emit_src=False)
    assert text.count("cell \\TRELLIS_FF") == kept
    assert text.count("cell \\MULT18X18D") == 6
