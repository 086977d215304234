"""The engine's config, protocol, host tiler and numpy model (no simulation)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from systolic.boards.block_ram_estimate import block_rams
from systolic.rtl.config import ENGINE_DATAFLOWS, ArrayConfig, ConfigError
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.engine.protocol import (ErrorCode, Opcode, Flag, header, parse_status,
                                          status_word)
from systolic.sim.engine_model import (EngineModel, engine_matmul, job_cycles,
                                       job_timing, k_chunks)
from systolic.sim.engine_tiling import (JobError, assemble_results, command_words, gemm_program,
                                        load_a_words, load_b_words, plan_jobs, result_positions,
                                        split_blocks, start_words)
from systolic.sim.model import OperandError, gemm_cycles, ideal_cycles, matmul

from conftest import saturate_each_chunk, saturate_every_step, saturation_case


def operands(rng, m, k, n, array):
    a = rng.integers(array.a_range[0], array.a_range[1] + 1, (m, k))
    b = rng.integers(array.b_range[0], array.b_range[1] + 1, (k, n))
    return a, b


def model_gemm(a, b, config, tiling=True):
    """Run the host program of ``A @ B`` through the word-level model; return result, trace."""
    program = gemm_program(a, b, config, tiling=tiling)
    trace = EngineModel(config).run(program.words)
    words = [w for _, w in trace.outputs]
    return assemble_results(words, program, config), trace, program


# EngineConfig --------------------------------------------------------------------------------

@pytest.mark.parametrize("rows, cols", [(4, 4), (2, 2), (3, 5), (8, 16), (16, 16), (12, 12)])
def test_default_buffers_reuse_each_operand_max_r_c_times(rows, cols):
    """Jobs of at least 128 x 128 x 128, and at least max(R, C) blocks each way: loading a full
    job takes at most half the cycles its passes do."""
    config = EngineConfig(ArrayConfig(rows=rows, cols=cols))
    assert config.word_width == 32 and config.k_depth == 128
    assert min(config.max_m, config.max_n) >= 128
    assert min(config.m_blocks, config.n_blocks) >= max(rows, cols)
    load = (config.load_words("a", config.max_m, config.k_depth)
            + config.load_words("b", config.k_depth, config.max_n))
    passes = config.m_blocks * config.n_blocks * config.k_depth
    assert load <= passes / 2


def test_beats_take_whole_words():
    config = EngineConfig(ArrayConfig(rows=5, cols=3, a_width=6, b_width=11))
    assert (config.a_per_word, config.b_per_word) == (5, 2)
    assert (config.a_words_per_beat, config.b_words_per_beat) == (1, 2)
    # 12 rows of A are 3 blocks of 5 rows; 7 columns of B 3 blocks of 3 columns.
    assert config.load_words("a", 12, 4) == 3 * 4 * 1
    assert config.load_words("b", 4, 7) == 3 * 4 * 2


def test_load_words_follow_the_beats():
    """LOAD data, rebuilt independently: for each block, for each K step, the block's lanes
    packed low first, each beat in whole words, padding lanes zero."""
    config = EngineConfig(ArrayConfig(rows=3, cols=2), k_depth=4, m_blocks=2, n_blocks=2)
    a = np.arange(5 * 2).reshape(5, 2) - 4          # 5 x 2: two blocks of 3 rows, one padded
    words = load_a_words(a, 1, config)
    assert words[:3] == [header(Opcode.LOAD_A, Flag.BANK), 5, 2]

    def word(values):
        return sum((v & 0xff) << (8 * i) for i, v in enumerate(values))
    assert words[3:] == [word(a[0:3, 0]), word(a[0:3, 1]), word([*a[3:5, 0], 0]),
                         word([*a[3:5, 1], 0])]
    b = np.arange(2 * 3).reshape(2, 3)              # 2 x 3: blocks of columns 0-1 and 2
    assert load_b_words(b, 0, config)[3:] == [word(b[0, 0:2]), word(b[1, 0:2]),
                                              word([b[0, 2], 0]), word([b[1, 2], 0])]
    # Weight-stationary: A K-block-major, a beat a row of A, its lanes a block of K; B as above.
    ws = EngineConfig(ArrayConfig(rows=3, cols=2, dataflow="weight-stationary"), k_depth=4,
                      m_blocks=2, n_blocks=2)
    a = np.arange(2 * 5).reshape(2, 5) - 4          # 2 x 5: K in blocks 0-2 and 3-4
    assert load_a_words(a, 0, ws)[3:] == [word(a[0, 0:3]), word(a[1, 0:3]),
                                          word([*a[0, 3:5], 0]), word([*a[1, 3:5], 0])]
    assert ws.load_words("a", 2, 5) == 4 and load_b_words(b, 0, ws) == load_b_words(b, 0, config)


def test_ecp5_preset():
    config = EngineConfig.ecp5(ArrayConfig(rows=8, cols=8))
    assert (config.max_m, config.max_k, config.max_n) == (128, 256, 128)
    assert block_rams(config, "ecp5")["total"] <= 208
    assert EngineConfig.ecp5(k_depth=64).k_depth == 64


def test_word_width_derived_and_checked():
    wide = ArrayConfig(a_width=16, b_width=16)
    assert EngineConfig(wide).word_width == 8 * math.ceil(wide.acc_width / 8)
    with pytest.raises(ConfigError) as info:
        EngineConfig(wide, word_width=32)
    assert info.value.parameter == "word_width"


@pytest.mark.parametrize("params, parameter", [
    ({"k_depth": 0}, "k_depth"),
    ({"m_blocks": 1.5}, "m_blocks"),
    ({"n_blocks": True}, "n_blocks"),
    ({"array": {"rows": 4}}, "array"),
    ({"word_width": 512}, "word_width"),
    ({"m_blocks": 4096, "n_blocks": 4096}, "n_blocks"),
    ({"buffer_ram": "lutram"}, "buffer_ram"),
    ({"buffer_ram": None}, "buffer_ram"),
    ({"buffer_latency": 3}, "buffer_latency"),
    ({"buffer_latency": True}, "buffer_latency"),
])
def test_bad_config_names_parameter(params, parameter):
    with pytest.raises(ConfigError) as info:
        EngineConfig(**params)
    assert info.value.parameter == parameter
    assert parameter in str(info.value)


def test_config_round_trip():
    config = EngineConfig(ArrayConfig(rows=3, cols=5, overflow="saturate"), k_depth=7)
    assert EngineConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigError):
        EngineConfig.from_dict({"depth": 3})


def test_buffer_ram():
    config = EngineConfig(ArrayConfig(rows=3, cols=5), k_depth=7, buffer_ram="distributed")
    assert EngineConfig.from_dict(config.to_dict()) == config
    assert config.to_dict()["buffer_ram"] == "distributed"
    assert config.describe().endswith(", distributed RAM")
    assert "RAM" not in EngineConfig().describe()
    # Distributed buffers take no block RAM, so sizing for block RAM leaves them alone.
    assert block_rams(config, "ecp5") == {"a": 0, "b": 0, "result": 0, "total": 0}
    # Dicts written before the parameter existed load with block RAM.
    old = EngineConfig().to_dict()
    del old["buffer_ram"]
    assert EngineConfig.from_dict(old).buffer_ram == "block"
    with pytest.raises(ConfigError, match="buffer_ram.*block, distributed"):
        EngineConfig(buffer_ram="registers")


# Protocol ------------------------------------------------------------------------------------

def test_header_and_status_layouts():
    assert header(Opcode.START, Flag.EMIT | Flag.BANK) == 0xC5000503
    status = parse_status(status_word(True, True, ErrorCode.TOO_BIG, 258))
    assert status.busy and status.error and status.code == ErrorCode.TOO_BIG and status.jobs == 2
    with pytest.raises(ValueError):
        parse_status(0x12)


# K chunks, blocks and the engine-level reference ---------------------------------------------

@given(k=st.integers(1, 5000), depth=st.integers(1, 300))
def test_k_chunks_cover_k_evenly(k, depth):
    chunks = k_chunks(k, EngineConfig(k_depth=depth))
    assert chunks[0][0] == 0 and chunks[-1][1] == k
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    sizes = [hi - lo for lo, hi in chunks]
    assert max(sizes) <= depth and max(sizes) - min(sizes) <= 1
    assert len(chunks) == math.ceil(k / depth)


@given(total=st.integers(1, 1000), multiple=st.integers(1, 9), blocks=st.integers(1, 20))
def test_split_blocks(total, multiple, blocks):
    limit = multiple * blocks
    parts = split_blocks(total, limit, multiple)
    assert parts[0][0] == 0 and parts[-1][1] == total
    assert len(parts) == math.ceil(total / limit)
    assert all(hi - lo <= limit for lo, hi in parts)
    assert all((hi - lo) % multiple == 0 for lo, hi in parts[:-1])


@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 40), n=st.integers(1, 9), depth=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1))
def test_wrap_chunking_equals_matmul(m, k, n, depth, seed):
    config = EngineConfig(ArrayConfig(rows=2, cols=2, acc_width=18), k_depth=depth)
    a, b = operands(np.random.default_rng(seed), m, k, n, config.array)
    assert np.array_equal(engine_matmul(a, b, config), matmul(a, b, config.array))


@pytest.mark.parametrize("depth", [50, 32, 7, 1])
def test_saturation_is_every_step_of_the_whole_k_whatever_the_chunks(depth):
    array, a, b = saturation_case()
    config = EngineConfig(array, k_depth=depth, m_blocks=3, n_blocks=3)
    lo, hi = array.acc_range
    expected = saturate_every_step(a, b, lo, hi)
    assert engine_matmul(a, b, config).tolist() == expected
    result, _, _ = model_gemm(a, b, config)
    assert result.tolist() == expected
    if depth >= 25:     # (short chunks happen to give the same answer on these operands)
        assert expected != saturate_each_chunk(a, b, lo, hi, depth)


def test_matmul_continues_from_a_start():
    array = ArrayConfig(rows=1, cols=1, acc_width=16, overflow="saturate")
    a, b = np.array([[127, -128]]), np.array([[127], [127]])
    # From 32000: +16129 clamps at 32767, then -16256 leaves 16511.
    assert matmul(a, b, array, start=[[32000]])[0, 0] == 32767 - 16256
    assert matmul(a, b, array)[0, 0] == 16129 - 16256


# Planning ------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(0, 3, 3), (3, 0, 3), (3, 3, 0), (-1, 2, 2)])
def test_zero_shapes_refused(shape):
    with pytest.raises(JobError, match="dimension"):
        plan_jobs(*shape, EngineConfig())


def test_empty_operands_refused():
    with pytest.raises(OperandError, match="empty"):
        gemm_program(np.zeros((0, 3), dtype=int), np.zeros((3, 2), dtype=int), EngineConfig())


def test_too_big_without_tiling_refused():
    config = EngineConfig(k_depth=32)
    with pytest.raises(JobError, match=r"K=33 > 32.*tiling was turned off"):
        plan_jobs(4, 33, 4, config, tiling=False)
    assert len(plan_jobs(config.max_m, 32, config.max_n, config, tiling=False)) == 1


@given(m=st.integers(1, 80), k=st.integers(1, 80), n=st.integers(1, 80))
def test_plan_covers_the_gemm(m, k, n):
    config = EngineConfig(ArrayConfig(rows=3, cols=5), k_depth=16, m_blocks=3, n_blocks=2)
    jobs = plan_jobs(m, k, n, config)
    covered = np.zeros((m, n), dtype=int)
    depth = np.zeros((m, n), dtype=int)
    for index, job in enumerate(jobs):
        jm, jk, jn = job.shape
        assert config.fits(jm, jk, jn)
        assert job.bank == index % 2
        depth[job.m0:job.m1, job.n0:job.n1] += jk
        if job.emit:
            covered[job.m0:job.m1, job.n0:job.n1] += 1
        if not job.accumulate:
            assert job.k0 == 0
    assert (covered == 1).all() and (depth == k).all()


def test_plan_skips_loads_a_bank_holds():
    config = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=8, m_blocks=2, n_blocks=1)
    jobs = plan_jobs(4, 8, 8, config)
    assert len(jobs) == 4
    assert [job.load_a for job in jobs] == [True, True, False, False]
    assert all(job.load_b for job in jobs)


def test_result_positions_tile_order():
    config = EngineConfig(ArrayConfig(rows=2, cols=2))
    rows, cols = result_positions(3, 3, config)
    assert list(zip(rows, cols)) == [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (1, 2),
                                     (2, 0), (2, 1), (2, 2)]


# The word-level model ------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 30), k=st.integers(1, 30), n=st.integers(1, 30),
       rows=st.integers(1, 4), cols=st.integers(1, 4), overflow=st.sampled_from(["wrap", "saturate"]),
       seed=st.integers(0, 2**32 - 1), dataflow=st.sampled_from(ENGINE_DATAFLOWS))
def test_model_program_computes_engine_matmul(m, k, n, rows, cols, overflow, seed, dataflow):
    array = ArrayConfig(rows=rows, cols=cols, acc_width=17, overflow=overflow, dataflow=dataflow)
    config = EngineConfig(array, k_depth=7, m_blocks=2, n_blocks=3)
    a, b = operands(np.random.default_rng(seed), m, k, n, array)
    result, trace, program = model_gemm(a, b, config)
    assert np.array_equal(result, engine_matmul(a, b, config))
    assert len(trace.accepted) == len(program.words)
    # One beat a cycle at most, a row of at most ``cols`` words.
    cycles = [c for c, _ in trace.outputs]
    assert cycles == sorted(cycles)
    assert max(cycles.count(c) for c in cycles) <= cols


def test_single_job_cycles_match_the_trace(dataflow):
    config = EngineConfig(ArrayConfig(rows=3, cols=5, dataflow=dataflow))
    a, b = operands(np.random.default_rng(0), 20, 30, 17, config.array)
    _, trace, program = model_gemm(a, b, config)
    assert trace.outputs[-1][0] - trace.starts[0] + 1 == job_cycles(20, 30, 17, config)


@pytest.mark.parametrize("rows, cols", [(8, 8), (4, 4), (3, 5)])
def test_large_gemm_keeps_array_busy(rows, cols):
    config = EngineConfig.ecp5(ArrayConfig(rows=rows, cols=cols))
    cycles = job_cycles(128, 128, 128, config)
    assert ideal_cycles(128, 128, 128, config.array) / cycles >= 0.95
    # On top of the bare array's schedule the engine adds a constant: 7 cycles from START to
    # the first beat, 1 from a row leaving the array to its write, 1 to its fetch, 2 through
    # the read register and the output register: the last tile's rows leave a beat each, one a
    # cycle, as they leave the array, its padding rows (past M) not at all.
    array = config.array
    array_only = gemm_cycles(128, 128, 128, array)
    padding = array.rows - ((128 - 1) % array.rows + 1)
    assert cycles == array_only + 7 + 1 + 1 + 2 - padding


def test_drain_overlaps_compute():
    """Results of a tile leave while later tiles compute: the last tile's words end the job."""
    config = EngineConfig.ecp5(ArrayConfig(rows=4, cols=4))
    timing = job_timing(64, 64, 64, config, 0)
    tiles = 16 * 16
    assert len(timing.words) == 64 * 64
    # Everything but the last tile's 16 words left before the last row was out of the array.
    assert sum(1 for c in timing.words if c <= timing.last_row) >= 64 * 64 - 2 * 16
    assert timing.words[-1] - timing.last_row == 4
    assert timing.last_beat + 1 - 3 == tiles * 64


def test_model_refusals_and_status():
    config = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=4, m_blocks=1, n_blocks=1)
    words = (command_words(Opcode.READ)                     # no job yet
             + [0xdeadbeef]                                 # bad magic
             + [header(0x7f)]                               # unknown opcode
             + [header(Opcode.NOP, Flag.EMIT)]              # flag NOP does not take
             + start_words(0, 1, 1)                         # zero
             + start_words(3, 1, 1)                         # M > 2
             + command_words(Opcode.STATUS))
    trace = EngineModel(config).run(words)
    assert len(trace.accepted) == len(words) and not trace.jobs
    status = parse_status(trace.outputs[-1][1])
    assert status.error and status.code == ErrorCode.TOO_BIG and status.jobs == 0


def test_word_width_must_be_whole_bytes():
    with pytest.raises(ConfigError, match="word_width=36 is invalid: must be a multiple of 8"):
        EngineConfig(word_width=36)
