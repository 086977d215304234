"""An 8N1 UART: receiver and transmitter with byte streams.

Both sides take the bit period as a *divisor*, the number of clock cycles per bit
(``clock / baud``). The divisor may be a fraction: a phase accumulator then spaces bit edges
``floor`` or ``ceil`` cycles apart so that the average bit period is exact and the timing error
never accumulates over a byte. That is what lets a 25 MHz design talk at 3 Mbaud (8.33 cycles
a bit), where a rounded integer divisor would be 4 % off and out of a host adapter's tolerance.
"""

from contextlib import contextmanager

from amaranth.hdl import Module, Signal, Cat, C
from amaranth.lib import wiring, stream
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .baud import (MAX_DIVISOR, MIN_DIVISOR, UARTError, baud_divisor, check_divisor,
                   rate_tolerance)

__all__ = [
    "UARTReceiver", "UARTTransmitter", "UARTError", "baud_divisor", "check_divisor",
    "rate_tolerance", "MIN_DIVISOR", "MAX_DIVISOR",
]

def _bit_timer(m, divisor, *, run, load, load_value):
    """Add a fractional bit-period timer to ``m`` and return its one-cycle ``tick``.

    The timer counts in units of ``1 / (2 * denominator)`` cycle, so that both a whole and a
    half bit period (for the receiver's mid-bit phase) are integers. While ``run`` is asserted,
    ``tick`` pulses every ``divisor`` cycles on average; ``load`` sets the phase instead.
    """
    period = 2 * divisor.numerator
    step = 2 * divisor.denominator
    phase = Signal(range(period), name="phase")
    tick = Signal(name="tick")
    # Compared against a constant rather than summed first: no adder on the path to ``tick``,
    # which the transmitter's ``ready`` depends on.
    m.d.comb += tick.eq(run & (phase >= period - step))
    with m.If(load):
        m.d.sync += phase.eq(load_value)
    with m.Elif(tick):
        m.d.sync += phase.eq(phase + step - period)
    with m.Elif(run):
        m.d.sync += phase.eq(phase + step)
    return tick


@contextmanager
def _rejected_unused(component):
    # Amaranth warns about elaboratables that are never elaborated; one whose parameters were
    # rejected in its constructor never could be, and the exception already says why.
    try:
        yield
    except UARTError:
        component._MustUse__silence = True
        raise


def _count_saturating(m, counter):
    with m.If(counter != (1 << len(counter)) - 1):
        m.d.sync += counter.eq(counter + 1)


class UARTReceiver(wiring.Component):
    """8N1 UART receiver producing a stream of bytes.

    The line goes through a two-flop synchronizer, since it comes from another clock domain (the
    host adapter). A falling edge while idle starts a frame; each bit is sampled once, at its
    middle, measured from that edge. The start bit is checked at its middle too, so a glitch
    shorter than half a bit is ignored. A frame whose stop bit reads 0 is dropped and reported
    as a framing error; the receiver then waits for the line to return high, so a break (a line
    held low) counts once. Bytes that complete while the consumer still has not taken the
    previous one are dropped and reported as overruns: the byte already offered is kept, as a
    stream payload must not change while it is valid.

    The sender may run off a different crystal: with the sampling point centred, the receiver
    tolerates a rate difference of about ``(divisor / 2 - 1.5) / (9.5 * divisor)``, 3.9 % at
    12 cycles a bit and 3.4 % at 8.33 (:func:`rate_tolerance`).

    Parameters
    ----------
    divisor : int, Fraction or float
        Clock cycles per bit (``clock / baud``); see :func:`check_divisor`.
    counter_width : int
        Width of the saturating error counters.

    Members
    -------
    rx : In(1)
        The serial line (idle high), asynchronous to the clock.
    o_stream : Out(stream.Signature(8))
        Received bytes. The payload is held until ``ready``.
    busy : Out(1)
        A frame is being received.
    framing_error : Out(1)
        Pulses for one cycle when a frame is dropped because its stop bit was 0.
    framing_errors : Out(counter_width)
        Frames dropped for a bad stop bit (saturating).
    overrun : Out(1)
        Pulses for one cycle when a byte is dropped because ``o_stream`` was still full.
    overruns : Out(counter_width)
        Bytes dropped for lack of a consumer (saturating).
    """

    def __init__(self, divisor, *, counter_width=16):
        with _rejected_unused(self):
            self._divisor = check_divisor(divisor)
            if isinstance(counter_width, bool) or not isinstance(counter_width, int) \
                    or not 1 <= counter_width <= 64:
                raise UARTError(f"counter_width={counter_width!r} is invalid: must be from 1 to 64")
        super().__init__({
            "rx":             In(1, init=1),
            "o_stream":       Out(stream.Signature(8)),
            "busy":           Out(1),
            "framing_error":  Out(1),
            "framing_errors": Out(counter_width),
            "overrun":        Out(1),
            "overruns":       Out(counter_width),
        })

    @property
    def divisor(self):
        """Clock cycles per bit, as a :class:`~fractions.Fraction`."""
        return self._divisor

    def elaborate(self, platform):
        m = Module()

        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)

        start = Signal()
        receiving = Signal()
        n, d = self._divisor.numerator, self._divisor.denominator
        # The detected edge lies on average half a cycle after the real one, so the first
        # sample is aimed half a cycle before the middle of the start bit: phase n + d of 2n.
        tick = _bit_timer(m, self._divisor, run=receiving, load=start, load_value=n + d)

        shreg = Signal(8)
        bits = Signal(range(9))
        done = Signal()

        # The error flags are one-cycle pulses: cleared by default, set below (the later
        # assignment wins).
        m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]

        with m.FSM(name="rx_fsm"):
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.comb += start.eq(1)
                    m.next = "START"
            with m.State("START"):
                m.d.comb += receiving.eq(1)
                with m.If(tick):
                    with m.If(rx):
                        m.next = "IDLE"    # a glitch, not a start bit
                    with m.Else():
                        m.d.sync += bits.eq(0)
                        m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += receiving.eq(1)
                with m.If(tick):
                    m.d.sync += shreg.eq(Cat(shreg[1:], rx))    # LSB first
                    m.d.sync += bits.eq(bits + 1)
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.comb += receiving.eq(1)
                with m.If(tick):
                    with m.If(rx):
                        m.d.comb += done.eq(1)
                        # Back to idle at mid stop bit: the next start edge may follow at once.
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                        _count_saturating(m, self.framing_errors)
                        m.next = "WAIT_HIGH"
            with m.State("WAIT_HIGH"):
                # A low stop bit may be a break; a new frame can only start after the line
                # has been high again.
                with m.If(rx):
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(receiving)

        with m.If(self.o_stream.valid & self.o_stream.ready):
            m.d.sync += self.o_stream.valid.eq(0)
        with m.If(done):
            with m.If(self.o_stream.valid & ~self.o_stream.ready):
                m.d.sync += self.overrun.eq(1)
                _count_saturating(m, self.overruns)
            with m.Else():
                m.d.sync += [
                    self.o_stream.payload.eq(shreg),
                    self.o_stream.valid.eq(1),
                ]

        return m


class UARTTransmitter(wiring.Component):
    """8N1 UART transmitter consuming a stream of bytes.

    A byte offered while the previous stop bit ends is accepted in that very cycle, so a
    continuous stream goes out back to back with no idle time between a stop bit and the next
    start bit.

    Parameters
    ----------
    divisor : int, Fraction or float
        Clock cycles per bit (``clock / baud``); see :func:`check_divisor`.

    Members
    -------
    i_stream : In(stream.Signature(8))
        Bytes to send.
    tx : Out(1)
        The serial line, idle high, driven from a register (glitch-free).
    busy : Out(1)
        A frame is being sent.
    """

    def __init__(self, divisor):
        with _rejected_unused(self):
            self._divisor = check_divisor(divisor)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "tx":       Out(1, init=1),
            "busy":     Out(1),
        })

    @property
    def divisor(self):
        """Clock cycles per bit, as a :class:`~fractions.Fraction`."""
        return self._divisor

    def elaborate(self, platform):
        m = Module()

        # Bits still to put on the line, counting the one being sent now.
        left = Signal(range(11))
        shreg = Signal(9)
        busy = Signal()
        m.d.comb += busy.eq(left != 0)
        m.d.comb += self.busy.eq(busy)

        # Idle keeps the phase at 0, so a frame from idle starts with a whole bit period.
        tick = _bit_timer(m, self._divisor, run=busy, load=~busy, load_value=0)

        last_tick = Signal()
        m.d.comb += last_tick.eq(tick & (left == 1))
        m.d.comb += self.i_stream.ready.eq(~busy | last_tick)

        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [
                self.tx.eq(0),                                  # start bit
                shreg.eq(Cat(self.i_stream.payload, C(1, 1))),  # data LSB first, then stop
                left.eq(10),
            ]
        with m.Elif(last_tick):
            m.d.sync += left.eq(0)                              # the stop bit left tx high
        with m.Elif(tick):
            m.d.sync += [
                self.tx.eq(shreg[0]),
                shreg.eq(shreg >> 1),
                left.eq(left - 1),
            ]

        return m
