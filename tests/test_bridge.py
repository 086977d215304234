"""The protocol bridge in Amaranth's simulator, against the reference codec of rtl/protocol.py.

The engine is played by the testbench here (it records every word the bridge sends and offers
the words it is given), so that the words the bridge feeds, and when, are checked exactly;
tests/test_board_core.py runs the bridge with the real engine.
"""

import random
from collections import deque

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Elaboratable, Fragment, Module
from amaranth.sim import Simulator

from systolic.rtl import protocol
from systolic.rtl.bridge import Bridge, bridge_info, frame_timeout_cycles, word_bytes
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine_config import EngineConfig
from systolic.rtl.protocol import (ErrorCode, Frame, FrameDecoder, Info, Kind, decode_info,
                                   encode_frame, words_to_bytes)

CONFIG = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=8, m_blocks=2, n_blocks=2)
CLOCK_HZ = 10_000_000
TIMEOUT = 64


class Host:
    """The host side of the byte streams: sends bytes, decodes reply frames as they arrive.

    ``ready`` is the probability that the host takes an offered reply byte on a cycle (1:
    always), to exercise the bridge holding a byte.
    """

    def __init__(self, dut, *, ready=1.0, seed=0):
        self.dut = dut
        self.ready = ready
        self.rng = random.Random(seed)
        self.decoder = FrameDecoder()
        self.replies = []          # (cycle the last byte arrived, Frame)
        self.first_byte = []       # cycle of the first byte of each reply
        self.cycle = 0
        self.taken = 0             # replies handed out by reply()

    async def run(self, ctx):
        """Background process: take reply bytes and count cycles."""
        stream = self.dut.o_stream
        in_frame = False
        while True:
            ctx.set(stream.ready, self.rng.random() < self.ready)
            _, _, valid, ready, byte = await ctx.tick().sample(stream.valid, stream.ready,
                                                               stream.payload)
            if valid and ready:
                if not in_frame:
                    self.first_byte.append(self.cycle)
                    in_frame = True
                for frame in self.decoder.feed(bytes([byte])):
                    self.replies.append((self.cycle, frame))
                    in_frame = False
            self.cycle += 1

    async def send(self, ctx, data, *, gap=0):
        """Offer ``data``, waiting ``gap`` idle cycles after each byte taken."""
        stream = self.dut.i_stream
        for byte in data:
            ctx.set(stream.payload, byte)
            ctx.set(stream.valid, 1)
            await ctx.tick().until(stream.ready)
            ctx.set(stream.valid, 0)
            if gap:
                await ctx.tick().repeat(gap)

    async def reply(self, ctx, *, budget=3000):
        """The next reply frame; fail if none comes within ``budget`` cycles."""
        for _ in range(budget):
            if len(self.replies) > self.taken:
                self.taken += 1
                return self.replies[self.taken - 1][1]
            await ctx.tick()
        raise AssertionError(f"no reply within {budget} cycles")

    async def request(self, ctx, kind, seq, payload=b""):
        await self.send(ctx, encode_frame(kind, seq, payload))
        return await self.reply(ctx)

    async def silence(self, ctx, cycles):
        """Wait ``cycles`` and check that no reply byte came."""
        bytes_before = len(self.first_byte)
        await ctx.tick().repeat(cycles)
        assert len(self.first_byte) == bytes_before and len(self.replies) == self.taken


class Engine:
    """The engine's side of the word streams, played by the testbench.

    ``cmd_ready`` is the probability of taking a word on a cycle. Words queued with
    :meth:`offer` are offered on ``rsp`` in order, each no earlier than its cycle.
    """

    def __init__(self, dut, *, cmd_ready=1.0, seed=1):
        self.dut = dut
        self.cmd_ready = cmd_ready
        self.rng = random.Random(seed)
        self.taken = []            # (cycle, word) the bridge sent
        self.pending = deque()     # (earliest cycle, word) to send
        self.given = []            # (cycle, word) the bridge took
        self.cycle = 0

    def offer(self, words, *, at=0, gap=0):
        for i, word in enumerate(words):
            self.pending.append((at + i * gap, word))

    def words(self):
        return [word for _, word in self.taken]

    async def run(self, ctx):
        cmd, rsp = self.dut.cmd, self.dut.rsp
        while True:
            ctx.set(cmd.ready, self.rng.random() < self.cmd_ready)
            offering = bool(self.pending) and self.pending[0][0] <= self.cycle
            ctx.set(rsp.valid, offering)
            if offering:
                ctx.set(rsp.payload, self.pending[0][1])
            _, _, c_valid, c_ready, c_word, r_ready = await ctx.tick().sample(
                cmd.valid, cmd.ready, cmd.payload, rsp.ready)
            if c_valid and c_ready:
                self.taken.append((self.cycle, c_word))
            if offering and r_ready:
                self.given.append((self.cycle, self.pending.popleft()[1]))
            self.cycle += 1


def simulate(body, *, config=CONFIG, timeout_cycles=TIMEOUT, host_ready=1.0, cmd_ready=1.0,
             max_payload=protocol.MIN_MAX_PAYLOAD):
    """Run ``body(ctx, host, engine)`` against a fresh bridge; return ``(host, engine)``."""
    dut = Bridge(config, clock_hz=CLOCK_HZ, timeout_cycles=timeout_cycles,
                 max_payload=max_payload)
    host = Host(dut, ready=host_ready)
    engine = Engine(dut, cmd_ready=cmd_ready)

    async def main(ctx):
        await body(ctx, host, engine)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(host.run, background=True)
    sim.add_testbench(engine.run, background=True)
    sim.add_testbench(main)
    sim.run()
    return host, engine


def ack(seq):
    return Frame(Kind.ACK, seq, b"")


def error(seq, code):
    return Frame(Kind.ERROR, seq, bytes([code]))


def data(seq, words, config=CONFIG):
    return Frame(Kind.DATA, seq, words_to_bytes(words, word_bytes(config)))


def read_count(count):
    return count.to_bytes(2, "little")


def some_words(n, config=CONFIG, seed=5):
    rng = random.Random(seed)
    return [rng.getrandbits(config.word_width) for _ in range(n)]


# Construction ----------------------------------------------------------------------------------

def built(component):
    """``component``, elaborated (it builds, and Amaranth does not warn it was never used)."""
    Fragment.get(component, None)
    return component


def test_info_describes_the_config():
    # Built field by field from the config, independently of bridge_info().
    config = EngineConfig(ArrayConfig(rows=3, cols=5, a_width=4, b_width=12, signed=False,
                                      overflow="saturate", acc_width=30), k_depth=16,
                          m_blocks=8, n_blocks=8)
    expected = Info(version=protocol.VERSION, signed=False, saturate=True, rows=3, cols=5,
                    a_width=4, b_width=12, acc_width=30, word_bytes=4, max_m=24, max_k=16,
                    max_n=40, max_payload=512, clock_khz=12_000)
    assert bridge_info(config, clock_hz=12e6, max_payload=512) == expected
    assert built(Bridge(config, clock_hz=12e6, max_payload=512)).info == expected


def test_timeout_defaults_to_frame_timeout_byte_times():
    assert frame_timeout_cycles(12e6, 1e6) == protocol.FRAME_TIMEOUT_BYTES * 120
    assert frame_timeout_cycles(12e6, 115200) == 1_066_667
    assert built(Bridge(CONFIG, clock_hz=12e6, baud=1e6)).timeout_cycles == 122_880
    assert built(Bridge(CONFIG, clock_hz=12e6, timeout_cycles=99)).timeout_cycles == 99


def test_the_buffers_take_the_engines_ram_kind():
    distributed = EngineConfig.from_dict({**CONFIG.to_dict(), "buffer_ram": "distributed"})
    text = rtlil.convert(Bridge(distributed, clock_hz=CLOCK_HZ))
    assert 'attribute \\ram_style "distributed"' in text
    assert "ram_style" not in rtlil.convert(Bridge(CONFIG, clock_hz=CLOCK_HZ))


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_payload=protocol.MIN_MAX_PAYLOAD - 1), "max_payload"),
    (dict(max_payload=0x10000), "max_payload"),
    (dict(timeout_cycles=0), "timeout_cycles"),
    (dict(clock_hz=0), "clock_hz"),
    (dict(baud=-1), "baud"),
    (dict(timeout_cycles=True), "timeout_cycles"),
    (dict(max_payload=300.0), "max_payload"),
])
def test_bad_parameters_are_refused(kwargs, match):
    params = dict(clock_hz=CLOCK_HZ) | kwargs
    with pytest.raises(ValueError, match=match):
        Bridge(CONFIG, **params)


def test_a_config_beyond_the_info_layout_is_refused():
    big = EngineConfig(ArrayConfig(rows=32, cols=1), m_blocks=4096, n_blocks=1, k_depth=1)
    with pytest.raises(ValueError, match="INFO"):
        Bridge(big, clock_hz=CLOCK_HZ)
    with pytest.raises(TypeError):
        Bridge(CONFIG.array, clock_hz=CLOCK_HZ)


# Requests --------------------------------------------------------------------------------------

def test_ping_and_info():
    async def body(ctx, host, engine):
        assert await host.request(ctx, Kind.PING, 0) == ack(0)
        reply = await host.request(ctx, Kind.INFO, 1)
        assert (reply.kind, reply.seq, reply.crc_ok) == (Kind.INFO_REPLY, 1, True)
        assert decode_info(reply.payload) == bridge_info(CONFIG, clock_hz=CLOCK_HZ)
        assert await host.request(ctx, Kind.PING, 255) == ack(255)
    host, engine = simulate(body)
    assert engine.taken == []


def test_write_feeds_every_word_once_and_acks_after_the_last():
    words = some_words(64)                          # a full 256-byte payload
    async def body(ctx, host, engine):
        payload = words_to_bytes(words, 4)
        assert await host.request(ctx, Kind.WRITE, 9, payload[:40]) == ack(9)
        assert await host.request(ctx, Kind.WRITE, 10, payload[40:]) == ack(10)
        assert await host.request(ctx, Kind.WRITE, 11, b"") == ack(11)
    host, engine = simulate(body, cmd_ready=0.3)
    assert engine.words() == words
    # Each ACK's first byte left after the last word of its WRITE was taken.
    assert host.first_byte[0] > engine.taken[9][0]
    assert host.first_byte[1] > engine.taken[-1][0]


def test_read_collects_words_from_the_engine():
    words = some_words(10)
    async def body(ctx, host, engine):
        engine.offer(words[:6])
        assert await host.request(ctx, Kind.READ, 1, read_count(6)) == data(1, words[:6])
        # Words that come slowly, each within the timeout of the previous, are all waited for.
        engine.offer(words[6:], at=engine.cycle + 20, gap=TIMEOUT - 8)
        assert await host.request(ctx, Kind.READ, 2, read_count(4)) == data(2, words[6:])
        assert await host.request(ctx, Kind.READ, 3, read_count(0)) == data(3, [])
    host, engine = simulate(body)
    assert [word for _, word in engine.given] == words


def test_read_returns_what_it_has_after_the_timeout():
    words = some_words(5)
    async def body(ctx, host, engine):
        # Reply latency after the last word when the count is reached: the reference.
        engine.offer(words[:2])
        assert await host.request(ctx, Kind.READ, 4, read_count(2)) == data(4, words[:2])
        prompt = host.first_byte[-1] - engine.given[-1][0]
        # Two words of five: the reply waits TIMEOUT cycles more, no fewer.
        engine.offer(words[2:4])
        assert await host.request(ctx, Kind.READ, 5, read_count(5)) == data(5, words[2:4])
        assert host.first_byte[-1] - engine.given[-1][0] == prompt + TIMEOUT
        # A word that comes later is left for the next READ.
        engine.offer(words[4:])
        assert await host.request(ctx, Kind.READ, 6, read_count(1)) == data(6, words[4:])
    simulate(body)


def test_a_full_read_of_max_payload_with_wide_words():
    # 40-bit words are 5 bytes: a non-power-of-two word, and a non-power-of-two buffer.
    config = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=8, m_blocks=2, n_blocks=2,
                          word_width=40)
    words = some_words(60, config)
    async def body(ctx, host, engine):
        payload = words_to_bytes(words, 5)
        assert await host.request(ctx, Kind.WRITE, 1, payload) == ack(1)
        assert await host.request(ctx, Kind.WRITE, 2, payload[:7]) \
            == error(2, ErrorCode.BAD_LENGTH)
        engine.offer(words)
        assert await host.request(ctx, Kind.READ, 3, read_count(60)) == data(3, words, config)
        assert await host.request(ctx, Kind.READ, 4, read_count(61)) \
            == error(4, ErrorCode.BAD_LENGTH)
    host, engine = simulate(body, config=config, max_payload=300)
    assert engine.words() == words


# Errors ----------------------------------------------------------------------------------------

def corrupt(frame, position, mask=0x10):
    frame = bytearray(frame)
    frame[position] ^= mask
    return bytes(frame)


def test_a_corrupted_write_never_reaches_the_engine():
    words = some_words(8)
    good = encode_frame(Kind.WRITE, 7, words_to_bytes(words, 4))
    async def body(ctx, host, engine):
        for position in (1, 2, 9, len(good) - 2, len(good) - 1):    # header, payload, CRC
            await host.send(ctx, corrupt(good, position))
            reply = await host.reply(ctx)
            # The SEQ byte is the corrupted one at position 2: the reply carries what arrived.
            seq = good[2] ^ (0x10 if position == 2 else 0)
            assert reply == error(seq, ErrorCode.BAD_CRC)
        assert engine.taken == []
        await host.send(ctx, good)
        assert await host.reply(ctx) == ack(7)
    host, engine = simulate(body)
    assert engine.words() == words


def test_unknown_kinds_and_bad_lengths():
    async def body(ctx, host, engine):
        for kind in (0x00, 0x05, Kind.ACK, Kind.DATA, Kind.ERROR, 0xFF):
            assert await host.request(ctx, kind, 3, b"xyz") == error(3, ErrorCode.BAD_KIND)
        cases = [(Kind.WRITE, b"\x01\x02\x03"), (Kind.WRITE, b"\x00" * 6),
                 (Kind.READ, b""), (Kind.READ, b"\x01"), (Kind.READ, b"\x01\x00\x00"),
                 (Kind.READ, read_count(65)), (Kind.READ, read_count(0xFFFF)),
                 (Kind.PING, b"\x00"), (Kind.INFO, b"\x00\x00")]
        for seq, (kind, payload) in enumerate(cases):
            assert await host.request(ctx, kind, seq, payload) == error(seq, ErrorCode.BAD_LENGTH)
        assert await host.request(ctx, Kind.READ, 99, read_count(64)) == data(99, [])
    host, engine = simulate(body, timeout_cycles=16)
    assert engine.taken == []


def test_too_long_is_refused_and_its_payload_drained():
    # The oversize payload holds a whole PING frame: a bridge that resynchronised inside it
    # instead of draining would answer that PING.
    inner = encode_frame(Kind.PING, 66)
    payload = (inner * 40)[:protocol.MIN_MAX_PAYLOAD + 1]
    async def body(ctx, host, engine):
        await host.send(ctx, encode_frame(Kind.WRITE, 5, payload))
        assert await host.reply(ctx) == error(5, ErrorCode.TOO_LONG)
        await host.silence(ctx, 3 * TIMEOUT)
        assert await host.request(ctx, Kind.PING, 6) == ack(6)
        # A header claiming 65535 bytes, then nothing: the drain gives up after the timeout.
        await host.send(ctx, bytes([protocol.SYNC, Kind.WRITE, 7, 0xFF, 0xFF]))
        assert await host.reply(ctx) == error(7, ErrorCode.TOO_LONG)
        await host.silence(ctx, TIMEOUT + 2)
        assert await host.request(ctx, Kind.PING, 8) == ack(8)
    host, engine = simulate(body)
    assert engine.taken == []


# Timeout ---------------------------------------------------------------------------------------

def test_a_truncated_frame_is_dropped_after_the_timeout():
    words = some_words(4)
    frame = encode_frame(Kind.WRITE, 1, words_to_bytes(words, 4))
    async def body(ctx, host, engine):
        for cut in (1, 3, 5, 12, len(frame) - 1):
            await host.send(ctx, frame[:cut])
            await host.silence(ctx, TIMEOUT + 2)
        assert engine.taken == []
        assert await host.request(ctx, Kind.PING, 2) == ack(2)
    simulate(body)


def test_the_timeout_is_exact():
    # Byte gaps of TIMEOUT - 1 idle cycles keep the frame; a gap of TIMEOUT drops it.
    frame = encode_frame(Kind.WRITE, 1, words_to_bytes([0x04030201, 0x08070605], 4))
    assert protocol.SYNC not in frame[1:]     # the rest of a dropped frame starts no other
    async def body(ctx, host, engine):
        await host.send(ctx, frame, gap=TIMEOUT - 1)
        assert await host.reply(ctx) == ack(1)
        await host.send(ctx, frame[:6], gap=TIMEOUT - 1)
        await ctx.tick().repeat(1)
        await host.send(ctx, frame[6:], gap=TIMEOUT - 1)
        await host.silence(ctx, TIMEOUT + 2)
        assert await host.request(ctx, Kind.PING, 2) == ack(2)
    host, engine = simulate(body)
    assert len(engine.taken) == 2


# Replays ---------------------------------------------------------------------------------------

def test_a_repeated_write_is_answered_but_not_executed():
    words = some_words(6)
    write = encode_frame(Kind.WRITE, 20, words_to_bytes(words, 4))
    async def body(ctx, host, engine):
        await host.send(ctx, write)
        assert await host.reply(ctx) == ack(20)
        for _ in range(2):
            await host.send(ctx, write)
            assert await host.reply(ctx) == ack(20)
        # Errors in between are not remembered: the WRITE is still the last executed request.
        await host.send(ctx, corrupt(write, 8))
        assert await host.reply(ctx) == error(20, ErrorCode.BAD_CRC)
        assert await host.request(ctx, 0x42, 21) == error(21, ErrorCode.BAD_KIND)
        await host.send(ctx, write)
        assert await host.reply(ctx) == ack(20)
        # The next SEQ executes again.
        assert await host.request(ctx, Kind.WRITE, 22, words_to_bytes(words[:1], 4)) == ack(22)
    host, engine = simulate(body)
    assert engine.words() == words + words[:1]


def test_a_repeated_read_gets_the_same_words_without_taking_more():
    words = some_words(8)
    async def body(ctx, host, engine):
        engine.offer(words)
        first = await host.request(ctx, Kind.READ, 30, read_count(3))
        assert first == data(30, words[:3])
        assert await host.request(ctx, Kind.READ, 30, read_count(3)) == first
        assert len(engine.given) == 3
        assert await host.request(ctx, Kind.READ, 31, read_count(5)) == data(31, words[3:])
        # INFO rewrites the reply buffer; its own repeat is answered from it.
        info = await host.request(ctx, Kind.INFO, 32)
        assert await host.request(ctx, Kind.INFO, 32) == info
        assert info.kind == Kind.INFO_REPLY
    simulate(body)


def test_a_repeat_must_be_the_same_request():
    # Same SEQ, different bytes: not a retry of the last request, so it is executed.
    async def body(ctx, host, engine):
        assert await host.request(ctx, Kind.PING, 40) == ack(40)
        reply = await host.request(ctx, Kind.INFO, 40)
        assert reply.kind == Kind.INFO_REPLY
        assert await host.request(ctx, Kind.WRITE, 40, b"\x01\x00\x00\x00") == ack(40)
    host, engine = simulate(body)
    assert engine.words() == [1]


# Streams ---------------------------------------------------------------------------------------

def test_back_to_back_frames_with_a_slow_host():
    words = some_words(5)
    requests = [
        (Kind.PING, 1, b""),
        (Kind.WRITE, 2, words_to_bytes(words, 4)),
        (Kind.READ, 3, read_count(2)),
        (Kind.INFO, 4, b""),
        (Kind.WRITE, 5, b"\x00"),
        (Kind.PING, 6, b""),
    ]
    stream = b"\x00\x13" + b"".join(encode_frame(*r) for r in requests)   # leading garbage
    async def body(ctx, host, engine):
        engine.offer([111, 222])
        await host.send(ctx, stream)
        replies = [await host.reply(ctx) for _ in requests]
        assert replies[:3] == [ack(1), ack(2), data(3, [111, 222])]
        assert decode_info(replies[3].payload) == bridge_info(CONFIG, clock_hz=CLOCK_HZ)
        assert replies[4:] == [error(5, ErrorCode.BAD_LENGTH), ack(6)]
    host, engine = simulate(body, host_ready=0.4, cmd_ready=0.5)
    assert engine.words() == words


# A random session against a model -------------------------------------------------------------

class BridgeModel:
    """What the bridge answers, request by request, for a host that waits for each reply."""

    def __init__(self, config=CONFIG, max_payload=protocol.MIN_MAX_PAYLOAD):
        self.word_bytes = word_bytes(config)
        self.max_words = max_payload // self.word_bytes
        self.info = protocol.encode_info(bridge_info(config, clock_hz=CLOCK_HZ))
        self.last = None               # (SEQ, CRC bytes, reply) of the last executed request
        self.fed = []                  # words sent to the engine
        self.pending = deque()         # words the engine has to give

    def answer(self, frame_bytes):
        kind, seq = frame_bytes[1], frame_bytes[2]
        payload, crc = frame_bytes[5:-2], frame_bytes[-2:]
        if protocol.crc16(frame_bytes[1:-2]) != int.from_bytes(crc, "little"):
            return error(seq, ErrorCode.BAD_CRC)
        if self.last is not None and self.last[:2] == (seq, crc):
            return self.last[2]
        if kind == Kind.PING and not payload:
            reply = ack(seq)
        elif kind == Kind.INFO and not payload:
            reply = Frame(Kind.INFO_REPLY, seq, self.info)
        elif kind == Kind.WRITE and len(payload) % self.word_bytes == 0:
            self.fed += protocol.bytes_to_words(payload, self.word_bytes)
            reply = ack(seq)
        elif kind == Kind.READ and len(payload) == 2 \
                and int.from_bytes(payload, "little") <= self.max_words:
            count = min(int.from_bytes(payload, "little"), len(self.pending))
            reply = data(seq, [self.pending.popleft() for _ in range(count)])
        elif kind in (Kind.PING, Kind.INFO, Kind.WRITE, Kind.READ):
            return error(seq, ErrorCode.BAD_LENGTH)
        else:
            return error(seq, ErrorCode.BAD_KIND)
        self.last = (seq, crc, reply)
        return reply


def random_request(rng, seq, previous):
    """A random request frame: mostly good ones, some repeats, corruptions and odd ones."""
    roll = rng.random()
    if previous is not None and roll < 0.15:
        return previous
    kind = rng.choice([Kind.PING, Kind.INFO, Kind.WRITE, Kind.WRITE, Kind.READ, Kind.READ,
                       Kind.ACK, 0x07])
    if kind == Kind.WRITE:
        payload = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 20, 6])))
    elif kind == Kind.READ:
        payload = rng.choice([read_count(rng.randrange(6)), read_count(200), b"\x01"])
    else:
        payload = rng.choice([b"", b"", b"\x00"])
    frame = bytearray(encode_frame(kind, seq, payload))
    if roll > 0.85:
        # Not SYNC and not LEN: the frame keeps its extent, so the bridge must answer it.
        position = rng.choice([1, 2] + list(range(5, len(frame))))
        frame[position] ^= 1 << rng.randrange(8)
    return bytes(frame)


def random_session(config, seed, requests, kinds):
    """Run ``requests`` random requests (of the first ``kinds`` kinds) against the bridge and
    the model; return the model's replies."""
    rng = random.Random(seed)
    model = BridgeModel()
    expected = []
    async def body(ctx, host, engine):
        previous = None
        for i in range(requests):
            if rng.random() < 0.3:
                words = some_words(rng.randrange(1, 5), seed=i)
                engine.offer(words)
                model.pending.extend(words)
            frame = random_request(rng, i % kinds, previous)
            expected.append(model.answer(frame))
            await host.send(ctx, frame)
            assert await host.reply(ctx) == expected[-1], f"request {i}: {frame.hex()}"
            previous = frame
    host, engine = simulate(body, config=config, timeout_cycles=24, host_ready=0.7,
                            cmd_ready=0.6)
    assert engine.words() == model.fed
    return expected


def test_a_random_session_matches_the_model():
    expected = random_session(CONFIG, 2024, 80, 7)
    assert {reply.kind for reply in expected} >= {Kind.ACK, Kind.DATA, Kind.INFO_REPLY,
                                                 Kind.ERROR}


# Distributed RAM buffers ------------------------------------------------------------------------

DISTRIBUTED = EngineConfig.from_dict({**CONFIG.to_dict(), "buffer_ram": "distributed"})


def test_distributed_buffers_are_two_memories_of_one_buffer_each():
    memories = lambda config: [line.split() for line in
                               rtlil.convert(Bridge(config, clock_hz=CLOCK_HZ)).splitlines()
                               if line.split()[:1] == ["memory"]]
    assert memories(CONFIG) == [["memory", "width", "8", "size", "512", "\\buffers"]]
    assert memories(DISTRIBUTED) == [
        ["memory", "width", "8", "size", "256", "\\payload_buffer"],
        ["memory", "width", "8", "size", "256", "\\reply_buffer"]]


def test_a_random_session_with_distributed_buffers_matches_the_model():
    random_session(DISTRIBUTED, 77, 60, 5)


class _Pair(Elaboratable):
    """A bridge with block-RAM buffers and one with distributed-RAM buffers, side by side."""

    def __init__(self, **kwargs):
        self.block = Bridge(CONFIG, clock_hz=CLOCK_HZ, **kwargs)
        self.distributed = Bridge(DISTRIBUTED, clock_hz=CLOCK_HZ, **kwargs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.block = self.block
        m.submodules.distributed = self.distributed
        return m


def test_distributed_buffers_behave_cycle_for_cycle_like_the_block_ram():
    # The same inputs on every cycle (a random stream of requests, some repeated, corrupted or
    # cut short, with gaps; random readiness and engine words): every output must match.
    pair = _Pair(timeout_cycles=24)
    rng = random.Random(99)
    stream = []                  # bytes to offer, None for a cycle offering none
    previous = None
    for i in range(70):
        frame = random_request(rng, i % 6, previous)
        previous = frame
        if rng.random() < 0.1:     # cut short, then silent: dropped by the timeout
            frame = frame[:rng.randrange(1, len(frame))]
            stream += list(frame) + [None] * 30
        else:
            stream += list(frame)
    outputs = lambda bridge: (bridge.i_stream.ready, bridge.o_stream.valid,
                              bridge.o_stream.payload, bridge.cmd.valid, bridge.cmd.payload,
                              bridge.rsp.ready, bridge.busy)
    checked = {"cycles": 0}
    decoder = FrameDecoder()
    replies = []

    async def testbench(ctx):
        position = 0
        idle = 0
        while position < len(stream) or idle < 400:
            silent = position < len(stream) and stream[position] is None
            position += silent
            offering = not silent and position < len(stream) and rng.random() < 0.8
            word = rng.getrandbits(CONFIG.word_width)
            rsp_valid = rng.random() < 0.3
            for bridge in (pair.block, pair.distributed):
                ctx.set(bridge.i_stream.valid, offering)
                ctx.set(bridge.i_stream.payload, stream[position] if offering else 0)
                ctx.set(bridge.o_stream.ready, rng.random() < 0.7 if bridge is pair.block
                        else ctx.get(pair.block.o_stream.ready))
                ctx.set(bridge.cmd.ready, rng.random() < 0.6 if bridge is pair.block
                        else ctx.get(pair.block.cmd.ready))
                ctx.set(bridge.rsp.valid, rsp_valid)
                ctx.set(bridge.rsp.payload, word)
            sampled = await ctx.tick().sample(*outputs(pair.block), *outputs(pair.distributed))
            values = sampled[2:]
            half = len(values) // 2
            assert values[:half] == values[half:], f"cycle {checked['cycles']}"
            if offering and values[0]:
                position += 1
            if values[1] and ctx.get(pair.block.o_stream.ready):
                replies.extend(decoder.feed(bytes([values[2]])))
            busy = values[half - 1]
            idle = 0 if (busy or position < len(stream)) else idle + 1
            checked["cycles"] += 1

    sim = Simulator(pair)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    # Most requests were answered, of every kind (the rest were dropped or refused).
    assert len(replies) > 40
    assert {reply.kind for reply in replies} >= {Kind.ACK, Kind.DATA, Kind.INFO_REPLY,
                                                Kind.ERROR}
