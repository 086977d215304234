"""The GEMM engine in Amaranth's simulator against the numpy model: results and cycles, exactly."""

import dataclasses
import gc
import random
import re
import warnings

import numpy as np
import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator
from hypothesis import HealthCheck, given, settings, strategies as st

from systolic.rtl.config import ENGINE_DATAFLOWS, ArrayConfig
from systolic.rtl.engine.engine import GemmEngine
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.engine.protocol import ErrorCode, Flag, Opcode, header, parse_status
from systolic.sim.engine_model import EngineModel, engine_matmul, job_cycles, output_beats
from systolic.sim.backends.amaranth_engine import run_engine_gemm, run_engine_words
from systolic.sim.engine_tiling import (JobError, command_words, gemm_program, load_a_words,
                                        load_b_words, result_positions, start_words)
from systolic.sim.model import ideal_cycles, matmul
from systolic.sim.packing import unpack_beat

from conftest import (EDGE_SHAPES, FamilyPlatform, clamped, on_dataflow, saturate_each_chunk,
                      saturate_every_step, saturation_case)

#: Odd sizes on purpose: nothing is a power of two, and K chunks, M and N blocks all occur.
SMALL = EngineConfig(ArrayConfig(rows=3, cols=5), k_depth=16, m_blocks=3, n_blocks=2)


def operands(rng, m, k, n, array):
    a = rng.integers(array.a_range[0], array.a_range[1] + 1, (m, k))
    b = rng.integers(array.b_range[0], array.b_range[1] + 1, (k, n))
    return a, b


def job_result(outputs, m, n, config):
    """The M x N matrix of one job's result words (``(cycle, word)`` pairs, drain order)."""
    rows, cols = result_positions(m, n, config)
    acc = config.array.acc_width
    result = np.zeros((m, n), dtype=np.int64)
    for r, c, (_, word) in zip(rows, cols, outputs, strict=True):
        word &= (1 << acc) - 1
        result[r, c] = word - (1 << acc) if config.array.signed and word >> (acc - 1) else word
    return result


def check_words(config, words, *, tail=30):
    """Run ``words`` on the RTL and the model; assert the same words taken and given, on the
    same cycles. Return the model's trace."""
    trace = EngineModel(config).run(words)
    budget = (trace.outputs[-1][0] if trace.outputs else 0) + len(words) * 40 + 2000
    run = run_engine_words(config, words, beats=len(output_beats(trace.outputs)), budget=budget,
                           tail=tail)
    assert run.accepted == trace.accepted
    assert run.outputs == trace.outputs
    return trace


def check_gemm(config, a, b, *, tiling=True):
    """Run ``A @ B`` on the RTL; assert results and cycles against the model; return the run."""
    run = run_engine_gemm(config, a, b, tiling=tiling)
    assert np.array_equal(run.result, engine_matmul(a, b, config))
    if config.array.overflow == "wrap":
        assert np.array_equal(run.result, matmul(a, b, config.array))
    program = gemm_program(a, b, config, tiling=tiling)
    trace = EngineModel(config).run(program.words)
    assert run.cycles == trace.outputs[-1][0] - trace.accepted[program.first_start] + 1
    if len(program.jobs) == 1:
        assert trace.outputs[-1][0] - trace.starts[0] + 1 == job_cycles(
            a.shape[0], a.shape[1], b.shape[1], config)
    return run


# Shapes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("config, jobs", [
    (EngineConfig.ecp5(ArrayConfig(rows=3, cols=5)), 1),
    (SMALL, 5 * 3 * 4),             # M in blocks of 9, N of 10, K in chunks of 16
], ids=["one-job", "tiled"])
def test_odd_shape_37_53_29(config, jobs, dataflow):
    config = on_dataflow(config, dataflow)
    a, b = operands(np.random.default_rng(37), 37, 53, 29, config.array)
    assert len(gemm_program(a, b, config).jobs) == jobs
    check_gemm(config, a, b)


@pytest.mark.parametrize("m, k, n", EDGE_SHAPES)
def test_edge_shapes(m, k, n, dataflow):
    config = on_dataflow(SMALL, dataflow)
    a, b = operands(np.random.default_rng(m * k * n), m, k, n, config.array)
    check_gemm(config, a, b)


def test_bigger_than_buffers(dataflow):
    config = EngineConfig(ArrayConfig(rows=2, cols=2, dataflow=dataflow), k_depth=8, m_blocks=2,
                          n_blocks=2)
    a, b = operands(np.random.default_rng(5), 11, 21, 10, config.array)
    assert len(gemm_program(a, b, config).jobs) == 3 * 3 * 3
    check_gemm(config, a, b)


def test_one_by_one_array_and_tiny_buffers(dataflow):
    config = EngineConfig(ArrayConfig(rows=1, cols=1, dataflow=dataflow), k_depth=1, m_blocks=1,
                          n_blocks=1)
    a, b = operands(np.random.default_rng(1), 2, 3, 2, config.array)
    check_gemm(config, a, b)


@pytest.mark.parametrize("depth", [50, 32, 7])
def test_saturation_does_not_depend_on_the_buffers(depth, dataflow):
    """A saturating engine clamps at every step of the whole K, whatever its K chunks (and,
    weight-stationary, its K tiles): the same answer for every buffer depth, neither the
    chunks' clamped sum nor a final clamp."""
    array, a, b = saturation_case()
    config = on_dataflow(EngineConfig(array, k_depth=depth, m_blocks=2, n_blocks=2), dataflow)
    run = check_gemm(config, a, b)
    lo, hi = array.acc_range
    assert run.result.tolist() == saturate_every_step(a, b, lo, hi)
    if depth >= 25:     # (short chunks happen to give the same answer on these operands)
        assert run.result.tolist() != saturate_each_chunk(a, b, lo, hi, depth)
    assert run.result[0, 3] == hi != clamped(int((a @ b)[0, 3]), lo, hi)


@pytest.mark.parametrize("array", [
    ArrayConfig(rows=2, cols=2, signed=False, a_width=5, b_width=3),
    ArrayConfig(rows=2, cols=3, a_width=16, b_width=12),        # 40-bit results, 40-bit words
    ArrayConfig(rows=3, cols=2, acc_width=16),                  # wraps
], ids=["unsigned", "wide", "wrapping"])
def test_widths_and_signedness(array, dataflow):
    config = on_dataflow(EngineConfig(array, k_depth=8, m_blocks=2, n_blocks=2), dataflow)
    a, b = operands(np.random.default_rng(3), 5, 13, 6, array)
    check_gemm(config, a, b)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(m=st.integers(1, 14), k=st.integers(1, 40), n=st.integers(1, 14),
       rows=st.integers(1, 4), cols=st.integers(1, 4), overflow=st.sampled_from(["wrap", "saturate"]),
       pipeline=st.integers(0, 1), latency=st.sampled_from([1, 2]),
       ram=st.sampled_from(["block", "distributed"]), seed=st.integers(0, 2**32 - 1),
       dataflow=st.sampled_from(ENGINE_DATAFLOWS))
def test_random_shapes(m, k, n, rows, cols, overflow, pipeline, latency, ram, seed, dataflow):
    array = ArrayConfig(rows=rows, cols=cols, acc_width=18, overflow=overflow, pipeline=pipeline,
                        dataflow=dataflow)
    config = EngineConfig(array, k_depth=12, m_blocks=2, n_blocks=2, buffer_latency=latency,
                          buffer_ram=ram)
    a, b = operands(np.random.default_rng(seed), m, k, n, array)
    check_gemm(config, a, b)


@pytest.mark.slow
@pytest.mark.parametrize("rows, cols, dataflow, bound", [
    (8, 8, "output-stationary", 0.95),
    # SCALE-Sim 3.0.0's weight-stationary figure for this GEMM on 8 x 8 (issue 18): ours sends
    # the results after the last K tile, so the drain does not overlap the passes.
    (8, 8, "weight-stationary", 0.853),
])
def test_128_cubed_efficiency(rows, cols, dataflow, bound):
    config = EngineConfig.ecp5(ArrayConfig(rows=rows, cols=cols, dataflow=dataflow))
    a, b = operands(np.random.default_rng(128), 128, 128, 128, config.array)
    run = check_gemm(config, a, b, tiling=False)
    assert ideal_cycles(128, 128, 128, config.array) / run.cycles >= bound


def test_the_partial_sum_turnaround_is_tight(monkeypatch):
    """A weight-stationary engine whose passes were one cycle closer than ``pass_spacing``
    says would read a row back on the cycle it is written, and get the old one."""
    config = EngineConfig(ArrayConfig(rows=3, cols=2, dataflow="weight-stationary"), k_depth=9,
                          m_blocks=1, n_blocks=1)
    tight = config.pass_spacing(1)
    assert tight == config.psum_turnaround > config.array.min_pass_spacing
    a, b = operands(np.random.default_rng(21), 1, 9, 2, config.array)
    assert np.array_equal(run_engine_gemm(config, a, b).result, matmul(a, b, config.array))
    monkeypatch.setattr(EngineConfig, "pass_spacing", lambda self, m: max(m, tight - 1))
    assert not np.array_equal(run_engine_gemm(config, a, b).result, matmul(a, b, config.array))


# Protocol ------------------------------------------------------------------------------------

FUZZ = EngineConfig(ArrayConfig(rows=2, cols=3, acc_width=17, overflow="saturate"),
                    k_depth=5, m_blocks=2, n_blocks=2)


@st.composite
def programs(draw, config=FUZZ):
    """Random command streams: good and refused commands, garbage, all in one."""
    array = config.array
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    words = []

    def dim(limit):
        return draw(st.sampled_from([0, limit + 1]) | st.integers(1, limit))

    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(["load_a", "load_b", "start", "read", "status", "clear",
                                     "garbage", "header"]))
        bank = draw(st.integers(0, 1))
        if kind in ("load_a", "load_b"):
            rows, cols = ((dim(config.max_m), dim(config.max_k)) if kind == "load_a"
                          else (dim(config.max_k), dim(config.max_n)))
            lo, hi = array.a_range if kind == "load_a" else array.b_range
            values = rng.integers(lo, hi + 1, (max(rows, 1), max(cols, 1)))
            encode = load_a_words if kind == "load_a" else load_b_words
            load = encode(values, bank, config)
            if rows == 0 or cols == 0 or not config.fits(rows if kind == "load_a" else 1,
                                                          cols if kind == "load_b" else 1,
                                                          cols if kind == "load_a" else rows):
                load = load[:1] + [rows, cols]              # refused: no data follows
            words += load
        elif kind == "start":
            words += start_words(dim(config.max_m), dim(config.max_k), dim(config.max_n),
                                 bank=bank, accumulate=draw(st.booleans()), emit=draw(st.booleans()))
        elif kind == "garbage":
            words.append(draw(st.integers(0, 2**32 - 1)))
        elif kind == "header":
            words.append(header(draw(st.integers(0, 255)), draw(st.integers(0, 255))))
        else:
            words += command_words({"read": Opcode.READ, "status": Opcode.STATUS,
                                    "clear": Opcode.CLEAR}[kind])
    return words + command_words(Opcode.STATUS)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.sampled_from(ENGINE_DATAFLOWS).flatmap(
    lambda dataflow: st.tuples(st.just(on_dataflow(FUZZ, dataflow)),
                               programs(on_dataflow(FUZZ, dataflow)))))
def test_random_command_streams(case):
    """Whatever the words, the engine takes them and answers exactly as the model says."""
    config, words = case
    check_words(config, words)


def test_refused_jobs_and_commands(dataflow):
    config = EngineConfig(ArrayConfig(rows=2, cols=2, dataflow=dataflow), k_depth=4, m_blocks=1,
                          n_blocks=1)
    with pytest.raises(JobError, match="tiling was turned off"):
        run_engine_gemm(config, np.ones((3, 2), dtype=int), np.ones((2, 2), dtype=int),
                        tiling=False)
    words = (command_words(Opcode.STATUS)
             + command_words(Opcode.READ)                   # no result yet
             + command_words(Opcode.STATUS)
             + start_words(2, 0, 2)                         # zero K
             + command_words(Opcode.STATUS)
             + load_a_words(np.ones((2, 5), dtype=int), 0, config)[:3]   # K = 5 > 4
             + command_words(Opcode.STATUS)
             + command_words(Opcode.CLEAR)
             + command_words(Opcode.STATUS))
    trace = check_words(config, words)
    codes = [parse_status(w) for _, w in trace.outputs]
    assert [(s.error, s.code) for s in codes] == [
        (False, ErrorCode.NONE), (True, ErrorCode.NO_RESULT), (True, ErrorCode.ZERO_SHAPE),
        (True, ErrorCode.TOO_BIG), (False, ErrorCode.NONE)]


def test_garbage_then_good_job(dataflow):
    """Garbage never hangs the engine: status reports it and the next job is right."""
    config = on_dataflow(SMALL, dataflow)
    rng = random.Random(4)
    garbage = [0, 0xffffffff, 0x12345678, header(0x42), header(Opcode.READ, Flag.BANK),
               header(Opcode.START) | (1 << 16), header(Opcode.LOAD_B, Flag.EMIT)]
    # Random words, minus the few that are well-formed headers (1 in 2**16 or so).
    garbage += [w for w in (rng.getrandbits(32) for _ in range(200))
                if (w >> 16) != 0xc500]
    garbage += start_words(100, 3, 3) + start_words(3, 3, 0) + load_b_words(
        np.ones((17, 2), dtype=int), 1, config)[:3]
    a, b = operands(np.random.default_rng(9), 6, 10, 7, config.array)
    good = (load_a_words(a, 1, config) + load_b_words(b, 1, config)
            + start_words(6, 10, 7, bank=1) + command_words(Opcode.STATUS))
    words = (garbage + command_words(Opcode.STATUS) + command_words(Opcode.CLEAR) + good)
    trace = check_words(config, words)
    first, last = parse_status(trace.outputs[0][1]), parse_status(trace.outputs[-1][1])
    assert first.error and first.code == ErrorCode.TOO_BIG and first.jobs == 0
    assert not last.error and last.jobs == 1
    assert np.array_equal(job_result(trace.outputs[1:-1], 6, 7, config),
                          matmul(a, b, config.array))


def test_resync_after_a_truncated_load(dataflow):
    config = EngineConfig(ArrayConfig(rows=2, cols=2, dataflow=dataflow), k_depth=4, m_blocks=1,
                          n_blocks=2)
    a, b = operands(np.random.default_rng(2), 2, 4, 4, config.array)
    cut = load_a_words(a, 0, config)[:-1]                   # one data word short
    resync = command_words(Opcode.NOP) * config.resync_words + command_words(Opcode.CLEAR)
    good = (load_a_words(a, 0, config) + load_b_words(b, 0, config)
            + start_words(2, 4, 4) + command_words(Opcode.STATUS))
    trace = check_words(config, cut + resync + good)
    assert not parse_status(trace.outputs[-1][1]).error
    assert np.array_equal(job_result(trace.outputs[:-1], 2, 4, config),
                          matmul(a, b, config.array))


def test_read_accumulate_and_busy_status(dataflow):
    """START without EMIT, a second job accumulating, STATUS while busy, then READ."""
    config = EngineConfig(ArrayConfig(rows=2, cols=2, dataflow=dataflow), k_depth=6, m_blocks=2,
                          n_blocks=2)
    rng = np.random.default_rng(11)
    a, b = operands(rng, 3, 12, 4, config.array)
    words = (load_a_words(a[:, :6], 0, config) + load_b_words(b[:6], 0, config)
             + load_a_words(a[:, 6:], 1, config) + load_b_words(b[6:], 1, config)
             + start_words(3, 6, 4, bank=0, emit=False)
             + command_words(Opcode.STATUS)
             + start_words(3, 6, 4, bank=1, accumulate=True, emit=False)
             + command_words(Opcode.READ) + command_words(Opcode.STATUS))
    trace = check_words(config, words)
    busy, done = parse_status(trace.outputs[0][1]), parse_status(trace.outputs[-1][1])
    assert busy.busy and busy.jobs == 1
    assert not done.busy and done.jobs == 2
    assert np.array_equal(job_result(trace.outputs[1:-1], 3, 4, config),
                          matmul(a, b, config.array))


def test_load_waits_for_the_bank_in_use(dataflow):
    """Loading the bank the running job reads waits; the other bank loads at once."""
    config = EngineConfig(ArrayConfig(rows=2, cols=2, dataflow=dataflow), k_depth=8, m_blocks=1,
                          n_blocks=1)
    rng = np.random.default_rng(12)
    a, b = operands(rng, 2, 8, 2, config.array)
    a2 = -a
    job = start_words(2, 8, 2, bank=0)
    words = (load_a_words(a, 0, config) + load_b_words(b, 0, config) + job
             + load_a_words(a2, 0, config)                  # waits for the feeder
             + start_words(2, 8, 2, bank=0))
    trace = check_words(config, words)
    launch = trace.jobs[0].launch
    data_start = len(load_a_words(a, 0, config) + load_b_words(b, 0, config) + job) + 3
    # The decoder takes the first data word two cycles after the job's last beat (the loader
    # waits on a registered copy of the feeder's busy flag); the engine's input register holds
    # it and the next one meanwhile, and takes the third the cycle after.
    assert trace.accepted[data_start + 1] < trace.jobs[0].last_beat
    assert trace.accepted[data_start + 2] == trace.jobs[0].last_beat + 3 > launch + 5
    assert np.array_equal(job_result(trace.outputs[:4], 2, 2, config), matmul(a, b, config.array))
    assert np.array_equal(job_result(trace.outputs[4:], 2, 2, config), matmul(a2, b, config.array))


@pytest.mark.parametrize("latency", [1, 2])
def test_output_backpressure_loses_nothing(latency, dataflow):
    """A consumer that is ready only now and then gets every word, in order, whatever the
    buffers' read latency (at latency 1 the read stalls with the output; at 2 it fills the
    drain's queue)."""
    config = on_dataflow(dataclasses.replace(SMALL, buffer_latency=latency), dataflow)
    a, b = operands(np.random.default_rng(8), 7, 20, 11, config.array)
    program = gemm_program(a, b, config)
    # Status words back to back and around a READ: each waits for the word before it.
    status = command_words(Opcode.STATUS)
    words = program.words + status + status + command_words(Opcode.READ) + status
    expected = [w for _, w in EngineModel(config).run(words).outputs]
    dut = GemmEngine(config)
    seen = []
    rng = random.Random(1)

    async def testbench(ctx):
        index = 0
        for _ in range(20000):
            if index < len(words):
                ctx.set(dut.i_stream.valid, 1)
                ctx.set(dut.i_stream.payload, words[index])
                if ctx.get(dut.i_stream.ready):
                    index += 1
            else:
                ctx.set(dut.i_stream.valid, 0)
            ready = rng.random() < 0.3
            ctx.set(dut.o_stream.ready, ready)
            if ready and ctx.get(dut.o_stream.valid):
                seen.extend(unpack_beat(ctx.get(dut.o_stream.payload.as_value()), config))
            if len(seen) == len(expected):
                break
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == expected


def test_distributed_buffers_behave_the_same(dataflow):
    # The simulator ignores what the buffers are built from: the same results on the same
    # cycles, with the RAM kind reaching every buffer of the elaborated design.
    config = on_dataflow(EngineConfig(SMALL.array, k_depth=SMALL.k_depth, m_blocks=SMALL.m_blocks,
                                      n_blocks=SMALL.n_blocks, buffer_ram="distributed"), dataflow)
    a, b = operands(np.random.default_rng(11), 10, 17, 11, config.array)
    check_gemm(config, a, b)
    # A memory a lane for A and for B (each at its own copy of the read address), one for C.
    styles = re.findall(r'attribute \\ram_style "(\w+)"', rtlil.convert(GemmEngine(config)))
    assert styles == ["distributed"] * (config.array.rows + config.array.cols + 1)
    assert "ram_style" not in rtlil.convert(GemmEngine(on_dataflow(SMALL, dataflow)))


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_every_user_of_the_launch_keeps_its_own_copy_on_ecp5(overflow, dataflow):
    # Kept registers (a TRELLIS_FF each), all loaded from the decoder's next launch, so that
    # Yosys leaves each beside the registers it clears.
    config = on_dataflow(dataclasses.replace(
        SMALL, array=dataclasses.replace(SMALL.array, overflow=overflow)), dataflow)
    text = rtlil.convert(GemmEngine(config), platform=FamilyPlatform("ecp5"), emit_src=False)
    copies = set(re.findall(r"cell \\TRELLIS_FF \\launch_(\w+)_ff\n", text))
    users = {"feeder", "drain"}
    if not config.array.weight_stationary:
        users |= {"writer", "preloader"} if overflow == "saturate" else {"writer"}
    assert copies == users


def test_engine_needs_engine_config():
    # The half-built engine warns that it was never elaborated when it is collected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError, match="EngineConfig"):
            GemmEngine(ArrayConfig())
        gc.collect()


def test_waveform(tmp_path):
    config = EngineConfig(ArrayConfig(rows=1, cols=2), k_depth=2, m_blocks=1, n_blocks=1)
    a, b = operands(np.random.default_rng(0), 1, 2, 2, config.array)
    run_engine_gemm(config, a, b, vcd=tmp_path / "engine.vcd")
    assert (tmp_path / "engine.vcd").stat().st_size > 0
