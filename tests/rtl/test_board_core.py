"""The board core (bridge + GEMM engine) in Amaranth's simulator: whole GEMMs as protocol frames,
on the byte streams and on the UART pins, checked against numpy."""

import dataclasses

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from systolic.rtl import protocol
from systolic.rtl.board_core import BoardCore
from systolic.rtl.protocol import info_from_config, word_bytes
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.engine.protocol import ErrorCode as EngineError, Opcode, parse_status
from conftest import on_dataflow
from systolic.rtl.protocol import (ErrorCode, Frame, FrameDecoder, Kind, bytes_to_words,
                                   decode_info, encode_frame, words_to_bytes)
from systolic.rtl.lib.uart import UARTError
from systolic.sim.engine_tiling import (assemble_results, command_words, gemm_program,
                                        load_a_words, load_b_words, start_words)
from systolic.sim.model import matmul

CONFIG = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=8, m_blocks=2, n_blocks=2)
CLOCK_HZ = 8_000_000
#: Long enough for any job of CONFIG to produce its first result word.
TIMEOUT = 400
WORD_BYTES = word_bytes(CONFIG)
MAX_WORDS = protocol.MIN_MAX_PAYLOAD // WORD_BYTES


class StreamLink:
    """The host on the byte streams of a ``baud=None`` board core."""

    def __init__(self, dut):
        self.dut = dut
        self.decoder = FrameDecoder()
        self.replies = []

    async def run(self, ctx):
        stream = self.dut.o_stream
        ctx.set(stream.ready, 1)
        async for _, _, valid, byte in ctx.tick().sample(stream.valid, stream.payload):
            if valid:
                self.replies += self.decoder.feed(bytes([byte]))

    async def send(self, ctx, data):
        stream = self.dut.i_stream
        for byte in data:
            ctx.set(stream.payload, byte)
            ctx.set(stream.valid, 1)
            await ctx.tick().until(stream.ready)
        ctx.set(stream.valid, 0)


class UartLink:
    """The host on the UART pins: bit-bangs ``rx`` and decodes ``tx``, ``divisor`` cycles a bit.

    A byte on ``tx`` is sampled in the middle of each bit, timed from the first low sample of
    its start bit; a stop bit that is not high is recorded in ``framing_errors``.
    """

    def __init__(self, dut, divisor, *, domain="sync"):
        self.dut = dut
        self.divisor = divisor
        self.domain = domain
        self.decoder = FrameDecoder()
        self.replies = []
        self.framing_errors = 0

    async def run(self, ctx):
        state, wait, bits = "idle", 0, []
        async for _, _, level in ctx.tick(self.domain).sample(self.dut.tx):
            if state == "idle":
                if not level:
                    state, wait = "start", self.divisor // 2
                continue
            wait -= 1
            if wait:
                continue
            if state == "start":
                state, wait, bits = ("data", self.divisor, []) if not level else ("idle", 0, [])
            elif state == "data":
                bits.append(level)
                wait = self.divisor
                if len(bits) == 8:
                    state = "stop"
            else:
                if level:
                    byte = sum(bit << i for i, bit in enumerate(bits))
                    self.replies += self.decoder.feed(bytes([byte]))
                else:
                    self.framing_errors += 1
                state = "idle"

    async def send(self, ctx, data):
        for byte in data:
            for level in [0] + [(byte >> i) & 1 for i in range(8)] + [1]:
                ctx.set(self.dut.rx, level)
                await ctx.tick(self.domain).repeat(self.divisor)


class Client:
    """Requests over a link, one at a time, as the protocol has it."""

    def __init__(self, link, *, budget, config=CONFIG):
        self.link = link
        self.budget = budget
        self.config = config
        self.taken = 0
        self.seq = 0

    async def reply(self, ctx):
        for _ in range(self.budget):
            if len(self.link.replies) > self.taken:
                self.taken += 1
                return self.link.replies[self.taken - 1]
            await ctx.tick()
        raise AssertionError(f"no reply within {self.budget} cycles")

    async def request(self, ctx, kind, payload=b"", *, repeat=0):
        """Send a request with the next SEQ (and ``repeat`` retries of it); return the reply
        after checking that every retry got the same one."""
        self.seq = (self.seq + 1) % 256
        frame = encode_frame(kind, self.seq, payload)
        await self.link.send(ctx, frame)
        reply = await self.reply(ctx)
        for _ in range(repeat):
            await self.link.send(ctx, frame)
            assert await self.reply(ctx) == reply
        return reply

    async def write(self, ctx, words, *, chunk=MAX_WORDS, repeat=0):
        for start in range(0, len(words), chunk):
            payload = words_to_bytes(words[start:start + chunk], WORD_BYTES)
            reply = await self.request(ctx, Kind.WRITE, payload, repeat=repeat)
            assert reply == Frame(Kind.ACK, self.seq, b"")

    async def read(self, ctx, count, *, repeat=0):
        """Read ``count`` words, in as many READs as needed; stop early on an empty DATA."""
        words = []
        while len(words) < count:
            n = min(MAX_WORDS, count - len(words))
            reply = await self.request(ctx, Kind.READ, n.to_bytes(2, "little"), repeat=repeat)
            assert (reply.kind, reply.seq) == (Kind.DATA, self.seq)
            got = bytes_to_words(reply.payload, WORD_BYTES)
            if not got:
                break
            words += got
        return words

    async def gemm(self, ctx, a, b, *, chunk=MAX_WORDS, repeat=0):
        """Compute ``A @ B`` (one job) through WRITE and READ frames."""
        program = gemm_program(a, b, self.config)
        assert len(program.jobs) == 1
        await self.write(ctx, program.words, chunk=chunk, repeat=repeat)
        words = await self.read(ctx, program.result_words, repeat=repeat)
        return assemble_results(words, program, self.config)

    async def status(self, ctx):
        await self.write(ctx, command_words(Opcode.STATUS))
        (word,) = await self.read(ctx, 1)
        return parse_status(word)


def simulate(dut, link, body, *, budget=20_000, link_clock_hz=None, config=CONFIG):
    async def main(ctx):
        await body(ctx, Client(link, budget=budget, config=config))
    sim = Simulator(dut)
    sim.add_clock(1 / CLOCK_HZ)
    if link_clock_hz is not None:
        sim.add_clock(1 / link_clock_hz, domain="link")
    sim.add_testbench(link.run, background=True)
    sim.add_testbench(main)
    sim.run()


def stream_core(config=CONFIG):
    dut = BoardCore(config, clock_hz=CLOCK_HZ, timeout_cycles=TIMEOUT)
    return dut, StreamLink(dut)


def operands(seed, m, k, n):
    rng = np.random.default_rng(seed)
    lo, hi = CONFIG.array.a_range
    return rng.integers(lo, hi + 1, (m, k)), rng.integers(lo, hi + 1, (k, n))


def check(result, a, b):
    assert np.array_equal(result, matmul(a, b, CONFIG.array))
    assert np.array_equal(result, a @ b)      # no overflow at these sizes


# Construction ----------------------------------------------------------------------------------

def test_the_two_variants_have_their_own_ports():
    streams = BoardCore(CONFIG, clock_hz=CLOCK_HZ)
    uart = BoardCore(CONFIG, clock_hz=12e6, baud=1e6)
    for dut in (streams, uart):
        Fragment.get(dut, None)
    assert {"i_stream", "o_stream", "status"} == set(streams.signature.members)
    assert {"rx", "tx", "status"} == set(uart.signature.members)
    assert streams.divisor is None and uart.divisor == 12
    assert uart.timeout_cycles == protocol.FRAME_TIMEOUT_BYTES * 10 * 12
    assert streams.info == info_from_config(CONFIG, clock_hz=CLOCK_HZ)
    assert uart.info.clock_khz == 12_000
    with pytest.raises(UARTError):
        BoardCore(CONFIG, clock_hz=CLOCK_HZ, baud=CLOCK_HZ)       # 1 cycle a bit
    with pytest.raises(ValueError, match="max_payload"):
        BoardCore(CONFIG, clock_hz=CLOCK_HZ, max_payload=16)


# On the byte streams ---------------------------------------------------------------------------

@pytest.mark.parametrize("m, k, n", [(3, 5, 3), (4, 8, 4), (1, 1, 1)])
def test_gemm_through_frames(m, k, n, dataflow):
    config = on_dataflow(CONFIG, dataflow)
    a, b = operands(m * 100 + k * 10 + n, m, k, n)
    dut, link = stream_core(config)
    async def body(ctx, client):
        info = decode_info((await client.request(ctx, Kind.INFO)).payload)
        assert info == info_from_config(config, clock_hz=CLOCK_HZ)
        check(await client.gemm(ctx, a, b), a, b)
        status = await client.status(ctx)
        assert (status.error, status.jobs) == (False, 1)
    simulate(dut, link, body, config=config)


def test_retried_requests_are_not_executed_twice():
    # Five words a WRITE, so that commands straddle frames, and every request sent twice: a
    # WRITE fed twice would misalign the command stream, a READ executed twice lose words.
    a, b = operands(7, 4, 6, 3)
    dut, link = stream_core()
    async def body(ctx, client):
        check(await client.gemm(ctx, a, b, chunk=5, repeat=1), a, b)
        assert await client.read(ctx, 1) == []                  # no words left over
        status = await client.status(ctx)
        assert (status.error, status.jobs) == (False, 1)
    simulate(dut, link, body)


def test_a_corrupted_write_leaves_the_engine_untouched():
    a, b = operands(8, 3, 4, 4)
    program = gemm_program(a, b, CONFIG)
    dut, link = stream_core()
    async def body(ctx, client):
        frame = bytearray(encode_frame(Kind.WRITE, 77, words_to_bytes(program.words[:5],
                                                                      WORD_BYTES)))
        frame[9] ^= 0x01
        await link.send(ctx, frame)
        assert await client.reply(ctx) == Frame(Kind.ERROR, 77, bytes([ErrorCode.BAD_CRC]))
        check(await client.gemm(ctx, a, b), a, b)
        # A second job on the same board, after the first.
        a2, b2 = operands(9, 2, 3, 2)
        check(await client.gemm(ctx, a2, b2), a2, b2)
        assert (await client.status(ctx)).jobs == 2
    simulate(dut, link, body)


def test_the_status_pins_follow_the_engine():
    dut, link = stream_core()
    async def body(ctx, client):
        assert not ctx.get(dut.status.error)
        await client.write(ctx, [0x12345678])                   # not a header: refused
        assert ctx.get(dut.status.error)
        assert ctx.get(dut.status.code) == EngineError.BAD_HEADER
        await client.write(ctx, command_words(Opcode.CLEAR))
        assert not ctx.get(dut.status.error)
        # ``link`` is up while a request is in flight.
        await link.send(ctx, encode_frame(Kind.PING, 200)[:3])
        assert ctx.get(dut.status.link)
        await link.send(ctx, encode_frame(Kind.PING, 200)[3:])
        await client.reply(ctx)
        await ctx.tick().repeat(2)
        assert not ctx.get(dut.status.link)
    simulate(dut, link, body)


def test_a_tiled_gemm_reads_each_job_before_the_next_start(dataflow):
    # The host order for several jobs: the engine's START waits until the previous job's
    # results are sent, and a WRITE waits until the engine takes its words, so the results
    # of a job are read after the next job's operands are written and before its START.
    config = on_dataflow(CONFIG, dataflow)
    a, b = operands(10, 7, 19, 6)
    program = gemm_program(a, b, config)
    assert len(program.jobs) > 4
    dut, link = stream_core(config)
    async def body(ctx, client):
        words, owed = [], 0
        for job in program.jobs:
            m, k, n = job.shape
            loads = []
            if job.load_a:
                loads += load_a_words(a[job.m0:job.m1, job.k0:job.k1], job.bank, config)
            if job.load_b:
                loads += load_b_words(b[job.k0:job.k1, job.n0:job.n1], job.bank, config)
            await client.write(ctx, loads)
            words += await client.read(ctx, owed)
            await client.write(ctx, start_words(m, k, n, bank=job.bank,
                                                accumulate=job.accumulate, emit=job.emit))
            owed = m * n if job.emit else 0
        words += await client.read(ctx, owed)
        check(assemble_results(words, program, config), a, b)
    simulate(dut, link, body, budget=50_000, config=config)


def test_a_start_behind_unread_results_is_answered_stalled():
    """The host writes the next START while the previous job's results are unread: the board
    answers ERROR(STALLED) after its timeout instead of waiting forever, and once the host
    reads those results, resynchronizes and clears, the engine runs the next job."""
    a, b = operands(11, 4, 6, 4)
    dut, link = stream_core()
    async def body(ctx, client):
        program = gemm_program(a, b, CONFIG)
        await client.write(ctx, program.words)                  # results owed, not read
        # The START's words are taken (the decoder then waits to launch); the next ones are not
        # (beyond the two that the engine's register slice holds).
        reply = await client.request(ctx, Kind.WRITE, words_to_bytes(
            start_words(4, 6, 4, bank=1) + command_words(Opcode.NOP) * 8, WORD_BYTES))
        assert (reply.kind, reply.payload) == (Kind.ERROR, bytes([ErrorCode.STALLED]))
        words = await client.read(ctx, program.result_words)
        check(assemble_results(words, program, CONFIG), a, b)
        # The START the engine took then runs (on bank 1's stale operands): read its results.
        assert len(await client.read(ctx, 4 * 4)) == 16
        # Resynchronize the decoder (a WRITE cut short may have left a command open), clear.
        await client.write(ctx, command_words(Opcode.NOP) * CONFIG.resync_words
                           + command_words(Opcode.CLEAR))
        assert not (await client.status(ctx)).error
        check(await client.gemm(ctx, a, b), a, b)
    simulate(dut, link, body, budget=50_000)


# On the UART pins ------------------------------------------------------------------------------

def test_gemm_over_the_uart_pins():
    # Real protocol bytes on the serial lines at 1 Mbaud from an 8 MHz clock (8 cycles a bit).
    baud = CLOCK_HZ // 8
    dut = BoardCore(CONFIG, clock_hz=CLOCK_HZ, baud=baud)
    link = UartLink(dut, divisor=8)
    a, b = operands(11, 3, 4, 3)
    async def body(ctx, client):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(20)
        assert await client.request(ctx, Kind.PING) == Frame(Kind.ACK, 1, b"")
        info = decode_info((await client.request(ctx, Kind.INFO)).payload)
        assert info == info_from_config(CONFIG, clock_hz=CLOCK_HZ)
        result = await client.gemm(ctx, a, b)
        assert np.array_equal(result, a @ b)
    simulate(dut, link, body)
    assert link.framing_errors == 0


@pytest.mark.parametrize("latency", [1, 2])
def test_gemm_over_the_uart_pins_with_a_link_clock_of_its_own(latency):
    # The bridge and the UART at 8 MHz (8 cycles a bit at 1 Mbaud), the engine at 8 MHz x 17/7
    # (no common period): the words cross with their features, worked out in the link's
    # clock, and INFO reports the engine's clock. A refused START shows that the features
    # crossed with their words; latency 2 puts a queue at the drain's output.
    config = dataclasses.replace(CONFIG, buffer_latency=latency)
    link_hz = CLOCK_HZ * 7 / 17
    dut = BoardCore(config, clock_hz=CLOCK_HZ, baud=link_hz / 8, link_clock_hz=link_hz)
    assert dut.divisor == 8 and dut.link_clock_hz == link_hz
    link = UartLink(dut, divisor=8, domain="link")
    a, b = operands(12, 4, 6, 3)
    async def body(ctx, client):
        ctx.set(dut.rx, 1)
        await ctx.tick("link").repeat(20)
        info = decode_info((await client.request(ctx, Kind.INFO)).payload)
        assert info == info_from_config(config, clock_hz=CLOCK_HZ)
        result = await client.gemm(ctx, a, b)
        assert np.array_equal(result, a @ b)
        status = await client.status(ctx)
        assert (status.error, status.jobs) == (False, 1)
        await client.write(ctx, start_words(config.max_m + 1, 1, 1))
        status = await client.status(ctx)
        assert (status.error, status.code, status.jobs) == (True, EngineError.TOO_BIG, 1)
    simulate(dut, link, body, budget=80_000, link_clock_hz=link_hz, config=config)
    assert link.framing_errors == 0
