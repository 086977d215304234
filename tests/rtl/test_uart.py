"""The 8N1 UART: line timing, loopback, rate tolerance, framing errors and overruns."""

import math
import random
from fractions import Fraction

import pytest
from amaranth.hdl import Elaboratable, Fragment, Module
from amaranth.sim import Simulator

from systolic.boards.platforms import boards
from systolic.boards.top import LINK_RATE_MARGIN, default_baud, default_clock_hz, link_clock_hz
from systolic.rtl.lib.uart import UARTReceiver, UARTTransmitter, UARTError, baud_divisor, check_divisor, rate_tolerance, MIN_DIVISOR
from systolic.rtl.protocol import DEFAULT_BAUD


def simulate(dut, clk_hz, main, *background):
    sim = Simulator(dut)
    sim.add_clock(1 / clk_hz)
    for tb in background:
        sim.add_testbench(tb, background=True)
    sim.add_testbench(main)
    sim.run()


def frame_bits(byte, stop=1):
    """Line levels of one 8N1 frame: start bit, data LSB first, stop bit."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


async def drive_line(ctx, line, levels, bit_time):
    """Put ``levels`` on ``line``, one every ``bit_time`` seconds, independent of the clock."""
    for level in levels:
        ctx.set(line, level)
        await ctx.delay(bit_time)


def collector(stream, got, *, pulses=None):
    """A background testbench that takes every byte ``stream`` offers (always ready)."""
    async def testbench(ctx):
        ctx.set(stream.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(stream.valid, stream.payload):
            if valid:
                got.append(payload)
    return testbench


def pulse_counter(signal, counts, key):
    async def testbench(ctx):
        counts[key] = 0
        async for _, _, value in ctx.tick().sample(signal):
            counts[key] += value
    return testbench


# Divisors ------------------------------------------------------------------------------------

def test_default_rate_fits_icebreaker_clock():
    # 1 Mbaud at the iCEBreaker's 12 MHz oscillator is an exact 12 cycles a bit.
    assert DEFAULT_BAUD >= 1_000_000
    assert baud_divisor(12e6) == 12
    assert baud_divisor(12_000_000, 1_000_000) == 12
    assert baud_divisor(25e6, 3e6) == Fraction(25, 3)
    assert baud_divisor(12e6, 115200) == Fraction(625, 6)


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 12, Fraction(25, 3), 8.5, 1 << 24])
def test_divisor_accepted(divisor):
    assert check_divisor(divisor) == Fraction(divisor)
    for cls in (UARTReceiver, UARTTransmitter):
        dut = cls(divisor)
        Fragment.get(dut, None)    # elaborates; a divisor that fits must build
        assert dut.divisor == Fraction(divisor)


def test_float_divisor_becomes_a_small_fraction():
    assert check_divisor(25e6 / 3e6) == Fraction(25, 3)


@pytest.mark.parametrize("divisor", [3, Fraction(39, 10), 0, -12, (1 << 24) + 1, True,
                                     "12", None, math.nan, math.inf])
def test_divisor_rejected(divisor):
    with pytest.raises(UARTError, match="divisor"):
        UARTReceiver(divisor)
    with pytest.raises(UARTError, match="divisor"):
        UARTTransmitter(divisor)


@pytest.mark.parametrize("clk_hz, baud, match", [
    (12e6, 4e6, "baud"), (0, 1e6, "clk_hz"), (12e6, -1, "baud"), (12e6, math.nan, "baud"),
])
def test_baud_divisor_rejected(clk_hz, baud, match):
    with pytest.raises(UARTError, match=match):
        baud_divisor(clk_hz, baud)


def test_uart_error_is_a_value_error():
    assert issubclass(UARTError, ValueError)
    with pytest.raises(UARTError, match="counter_width"):
        UARTReceiver(12, counter_width=0)


# Transmitter ---------------------------------------------------------------------------------

def record_tx(divisor, data, clk_hz, cycles):
    """Send ``data`` back to back through a transmitter; return its line, one level a cycle."""
    dut = UARTTransmitter(divisor)
    line = []

    async def sender(ctx):
        for byte in data:
            ctx.set(dut.i_stream.valid, 1)
            ctx.set(dut.i_stream.payload, byte)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def monitor(ctx):
        for _ in range(cycles):
            _, _, tx = await ctx.tick().sample(dut.tx)
            line.append(tx)

    simulate(dut, clk_hz, monitor, sender)
    return line


@pytest.mark.parametrize("divisor", [12, Fraction(25, 3), 4])
def test_tx_line_timing_back_to_back(divisor):
    """Every edge lies within a cycle of an exact bit boundary, with no drift and no gaps."""
    rng = random.Random(1)
    data = [0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(12)]
    div = float(divisor)
    line = record_tx(divisor, data, 1e6, math.ceil(len(data) * 10 * div + 3 * div))

    t0 = line.index(0)
    for t in range(t0 + 1, len(line)):
        if line[t] != line[t - 1]:
            k = round((t - t0) / div)
            assert abs(t - t0 - k * div) < 1, f"edge at cycle {t} is off the bit grid"
    received = []
    for i in range(len(data)):
        bits = [line[t0 + math.floor((i * 10 + j + 0.5) * div)] for j in range(10)]
        assert bits[0] == 0 and bits[9] == 1, f"frame {i} has start {bits[0]}, stop {bits[9]}"
        received.append(sum(bit << j for j, bit in enumerate(bits[1:9])))
    assert received == data
    # After the last stop bit the line idles high.
    assert all(line[t0 + math.ceil(len(data) * 10 * div):])


# Loopback ------------------------------------------------------------------------------------

class Loopback(Elaboratable):
    def __init__(self, divisor):
        self.tx = UARTTransmitter(divisor)
        self.rx = UARTReceiver(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = self.tx
        m.submodules.rx = self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("divisor, seed", [(12, 0), (Fraction(25, 3), 1), (4, 2), (104, 3)])
def test_loopback_random_bytes_back_to_back(divisor, seed):
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(24 if divisor < 100 else 6)]
    dut = Loopback(divisor)
    got = []
    busy_cycles = []

    async def sender(ctx):
        for byte in data:
            ctx.set(dut.tx.i_stream.valid, 1)
            ctx.set(dut.tx.i_stream.payload, byte)
            await ctx.tick().until(dut.tx.i_stream.ready)
        ctx.set(dut.tx.i_stream.valid, 0)

    async def checker(ctx):
        budget = math.ceil((len(data) + 2) * 10 * float(divisor))
        for _ in range(budget):
            _, _, busy = await ctx.tick().sample(dut.tx.busy)
            busy_cycles.append(busy)
            if len(got) == len(data) and not busy:
                break
        assert got == data
        assert ctx.get(dut.rx.framing_errors) == 0
        assert ctx.get(dut.rx.overruns) == 0

    simulate(dut, 1e6, checker, sender, collector(dut.rx.o_stream, got))
    # The transmitter never went idle between frames: one busy stretch of exactly n frames.
    first = busy_cycles.index(1)
    stretch = busy_cycles[first:].index(0) if 0 in busy_cycles[first:] else None
    assert stretch is not None
    assert abs(stretch - len(data) * 10 * float(divisor)) <= 1


# Receiver driven bit by bit -----------------------------------------------------------------

def board_links():
    """``(link clock Hz, default baud)`` of every board's default build, each pair once."""
    links = {}
    for board in boards():
        link_hz = link_clock_hz(board) or board.clock_plan(default_clock_hz(board)).f_out
        links.setdefault((link_hz, default_baud(board)), board.name)
    return [pytest.param(clk, baud, id=f"{name}-{baud / 1e6:g}M")
            for (clk, baud), name in links.items()]


def check_rx_from_foreign_clock(clk_hz, baud, rate_error):
    """Frames sent back to back at a rate off by ``rate_error`` with a random phase."""
    dut = UARTReceiver(baud_divisor(clk_hz, baud))
    rng = random.Random(f"{clk_hz}-{baud}-{rate_error}")
    count = 6 if baud < 1e6 else 24
    data = [0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(count)]
    bit_time = 1 / (baud * (1 + rate_error))
    got = []

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(rng.uniform(2, 3) * bit_time)    # idle with an arbitrary phase
        levels = [level for byte in data for level in frame_bits(byte)]
        await drive_line(ctx, dut.rx, levels, bit_time)
        await ctx.delay(2 * bit_time)
        assert [f"{b:02x}" for b in got] == [f"{b:02x}" for b in data]
        assert ctx.get(dut.framing_errors) == 0
        assert ctx.get(dut.overruns) == 0

    simulate(dut, clk_hz, sender, collector(dut.o_stream, got))


@pytest.mark.parametrize("clk_hz, baud, rate_error", [
    (12e6, 1e6, -0.02), (12e6, 1e6, 0.0), (12e6, 1e6, +0.02),
    (25e6, 3e6, -0.02), (25e6, 3e6, 0.0), (25e6, 3e6, +0.02),
    (12e6, 115200, +0.02), (12e6, 3e6, 0.0),
])
def test_rx_from_foreign_clock(clk_hz, baud, rate_error):
    check_rx_from_foreign_clock(clk_hz, baud, rate_error)


# Each board's default link rate, with the board's clock 2 % off either way -------------------

@pytest.mark.parametrize("rate_error", [-0.02, +0.02])
@pytest.mark.parametrize("clk_hz, baud", board_links())
def test_board_default_rate_rx(clk_hz, baud, rate_error):
    """The host sends at the nominal rate; the board's receiver runs 2 % fast or slow (the
    same as the host's rate off by the opposite amount)."""
    assert rate_tolerance(baud_divisor(clk_hz, baud)) >= LINK_RATE_MARGIN
    check_rx_from_foreign_clock(clk_hz, baud, -rate_error / (1 + rate_error))


@pytest.mark.parametrize("rate_error", [-0.02, +0.02])
@pytest.mark.parametrize("clk_hz, baud", board_links())
def test_board_default_rate_tx(clk_hz, baud, rate_error):
    """The board's transmitter runs off a clock 2 % fast or slow; a host receiver at the
    nominal rate, which finds each start edge and samples every bit at its nominal middle,
    reads every byte."""
    rng = random.Random(f"tx-{clk_hz}-{baud}-{rate_error}")
    data = [0x00, 0xFF, 0x55, 0xAA] + [rng.randrange(256) for _ in range(20)]
    period = 1 / (clk_hz * (1 + rate_error))    # the clock the board really has
    line = record_tx(baud_divisor(clk_hz, baud), data, 1 / period,
                     math.ceil((len(data) + 2) * 10 * clk_hz / baud))

    def level(t):
        return line[min(len(line) - 1, math.floor(t / period))]

    bit = 1 / baud
    received, t = [], 0.0
    while len(received) < len(data):
        # The host's receiver: the next falling edge starts a frame.
        cycle = next(i for i in range(math.floor(t / period), len(line))
                     if line[i] == 0 and (i == 0 or line[i - 1] == 1))
        start = cycle * period
        bits = [level(start + (j + 0.5) * bit) for j in range(10)]
        assert bits[0] == 0 and bits[9] == 1, f"frame {len(received)}: start/stop {bits}"
        received.append(sum(b << j for j, b in enumerate(bits[1:9])))
        t = start + 9.5 * bit
    assert received == data


@pytest.mark.parametrize("board", boards(), ids=lambda b: b.name)
def test_board_default_rate_is_the_fastest_with_margin(board):
    """The chip makes the default rate exactly; the chip's next faster rate, if any, leaves
    the receiver less than the margin (or fewer than MIN_DIVISOR cycles a bit)."""
    link_hz = link_clock_hz(board) or board.clock_plan(default_clock_hz(board)).f_out
    rates = board.serial.rates()
    baud = default_baud(board)
    assert baud in rates and baud <= board.serial.max_baud
    assert rate_tolerance(link_hz / baud) >= LINK_RATE_MARGIN
    faster = rates[:rates.index(baud)]
    if faster:
        divisor = link_hz / faster[-1]
        assert divisor < MIN_DIVISOR or rate_tolerance(divisor) < LINK_RATE_MARGIN
    # A slower main clock lowers an iCE40 board's rate (its link runs from the main clock).
    if link_clock_hz(board) is None:
        assert default_baud(board, 16e6) <= baud


def test_rate_tolerance_formula():
    # A receiver at the edge of its tolerance: the formula's figure, from the docstring.
    assert rate_tolerance(12) == pytest.approx(4.5 / 114)
    assert rate_tolerance(Fraction(25, 3)) == pytest.approx((25 / 6 - 1.5) / (9.5 * 25 / 3))
    with pytest.raises(UARTError):
        rate_tolerance(3)


def test_rx_framing_error_drops_byte_and_recovers():
    clk_hz, baud = 25e6, 3e6
    dut = UARTReceiver(baud_divisor(clk_hz, baud), counter_width=4)
    bit_time = 1 / baud
    got = []
    counts = {}

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(3.3 * bit_time)
        levels = (frame_bits(0x41) + frame_bits(0x42, stop=0) + [1]
                  + frame_bits(0x43)
                  + [0] * 30 + [1] * 2           # a break: one framing error, not several
                  + frame_bits(0x44) + frame_bits(0x45))
        await drive_line(ctx, dut.rx, levels, bit_time)
        await ctx.delay(2 * bit_time)
        assert got == [0x41, 0x43, 0x44, 0x45]
        assert ctx.get(dut.framing_errors) == 2
        assert counts["framing_error"] == 2
        assert ctx.get(dut.overruns) == 0

    simulate(dut, clk_hz, sender, collector(dut.o_stream, got),
             pulse_counter(dut.framing_error, counts, "framing_error"))


def test_rx_framing_error_counter_saturates():
    clk_hz, baud = 12e6, 1e6
    dut = UARTReceiver(baud_divisor(clk_hz, baud), counter_width=2)
    bit_time = 1 / baud

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2 * bit_time)
        for _ in range(5):
            await drive_line(ctx, dut.rx, frame_bits(0x00, stop=0) + [1], bit_time)
        await ctx.delay(2 * bit_time)
        assert ctx.get(dut.framing_errors) == 3

    simulate(dut, clk_hz, sender)


def test_rx_ignores_glitch_shorter_than_half_a_bit():
    clk_hz, baud = 12e6, 1e6
    dut = UARTReceiver(baud_divisor(clk_hz, baud))
    bit_time = 1 / baud
    got = []

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2 * bit_time)
        await drive_line(ctx, dut.rx, [0, 1], 0.3 * bit_time)
        await ctx.delay(3 * bit_time)
        assert got == [] and ctx.get(dut.framing_errors) == 0
        await drive_line(ctx, dut.rx, frame_bits(0x5A), bit_time)
        await ctx.delay(2 * bit_time)
        assert got == [0x5A]

    simulate(dut, clk_hz, sender, collector(dut.o_stream, got))


def test_rx_overrun_keeps_the_offered_byte():
    clk_hz, baud = 12e6, 1e6
    dut = UARTReceiver(baud_divisor(clk_hz, baud))
    bit_time = 1 / baud
    counts = {}

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        ctx.set(dut.o_stream.ready, 0)
        await ctx.delay(2 * bit_time)
        levels = frame_bits(0x11) + frame_bits(0x22) + frame_bits(0x33)
        await drive_line(ctx, dut.rx, levels, bit_time)
        await ctx.delay(2 * bit_time)
        assert ctx.get(dut.o_stream.valid) == 1
        assert ctx.get(dut.o_stream.payload) == 0x11
        assert ctx.get(dut.overruns) == 2
        assert counts["overrun"] == 2
        # The consumer takes the byte; the next frame is received normally.
        ctx.set(dut.o_stream.ready, 1)
        await ctx.tick()
        ctx.set(dut.o_stream.ready, 0)
        await ctx.tick()
        assert ctx.get(dut.o_stream.valid) == 0
        await drive_line(ctx, dut.rx, frame_bits(0x44), bit_time)
        await ctx.delay(2 * bit_time)
        assert ctx.get(dut.o_stream.valid) == 1
        assert ctx.get(dut.o_stream.payload) == 0x44
        assert ctx.get(dut.overruns) == 2
        assert ctx.get(dut.framing_errors) == 0

    simulate(dut, clk_hz, sender, pulse_counter(dut.overrun, counts, "overrun"))


@pytest.mark.parametrize("phase", range(0, 40))
def test_rx_no_overrun_when_consumer_keeps_pace(phase):
    """A consumer ready one cycle per frame never loses a byte, whatever its phase.

    One of the phases makes the consumer take a byte in the very cycle the next one completes;
    that transfer frees the register and must not count as an overrun.
    """
    clk_hz, divisor = 4e6, 4
    dut = UARTReceiver(divisor)
    bit_time = divisor / clk_hz
    data = [0x12, 0x34, 0x56, 0x78]
    got = []

    async def consumer(ctx):
        cycle = 0
        while True:
            ctx.set(dut.o_stream.ready, cycle % 40 == phase)
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.o_stream.valid, dut.o_stream.ready, dut.o_stream.payload)
            if valid and ready:
                got.append(payload)
            cycle += 1

    async def sender(ctx):
        ctx.set(dut.rx, 1)
        await ctx.delay(2.5 * bit_time)
        await drive_line(ctx, dut.rx, [v for b in data for v in frame_bits(b)], bit_time)
        await ctx.delay(12 * bit_time)
        assert got == data
        assert ctx.get(dut.overruns) == 0

    simulate(dut, clk_hz, sender, consumer)
