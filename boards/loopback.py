"""A self-contained board top: the UART echoes every byte, LEDs show life and traffic.

It is the smallest design that exercises a board end to end (clock generator, PLL, UART pins,
LEDs, the whole toolchain) and what a host can talk to before the accelerator exists.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered

from ..rtl.lib.uart import UARTReceiver, UARTTransmitter, baud_divisor
from ..rtl.protocol import DEFAULT_BAUD
from .platforms import board as get_board

__all__ = ["UARTLoopback"]


class UARTLoopback(wiring.Component):
    """Echo each byte received on the board's USB-serial UART.

    A FIFO between receiver and transmitter absorbs a host that sends slightly faster than the
    echo goes out (crystals differ), so bursts up to its depth are echoed without loss.
    LED 0 blinks at about 1 Hz from the main clock, LED 1 toggles on each byte received, and
    LED 2 (where the board has one) lights after a framing error or an overrun.

    Parameters
    ----------
    board : Board or str
        The board, for its UART and LED resources.
    clk_hz : float
        Frequency of the ``sync`` domain the design runs in (the achieved clock).
    baud : int
        Link rate.
    fifo_depth : int
        Bytes the echo path can hold.

    The component has no ports: it requests its pins from the platform.
    """

    def __init__(self, board, clk_hz, *, baud=DEFAULT_BAUD, fifo_depth=16):
        self._board = get_board(board)
        self._clk_hz = clk_hz
        self._divisor = baud_divisor(clk_hz, baud)
        self._fifo_depth = fifo_depth
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = rx = UARTReceiver(self._divisor)
        m.submodules.tx = tx = UARTTransmitter(self._divisor)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=self._fifo_depth)
        wiring.connect(m, rx.o_stream, fifo.w_stream)
        wiring.connect(m, fifo.r_stream, tx.i_stream)

        line_in, line_out = self._board.request_uart(m, platform)
        m.d.comb += [rx.rx.eq(line_in), line_out.eq(tx.tx)]

        leds = self._board.request_leds(m, platform)
        # A counter whose top bit flips about every half second.
        heartbeat = Signal(max(1, int(self._clk_hz / 2).bit_length()))
        m.d.sync += heartbeat.eq(heartbeat + 1)
        activity = Signal()
        with m.If(rx.o_stream.valid & rx.o_stream.ready):
            m.d.sync += activity.eq(~activity)
        trouble = Signal()
        with m.If(rx.framing_error | rx.overrun):
            m.d.sync += trouble.eq(1)
        for led, value in zip(leds, (heartbeat[-1], activity, trouble)):
            m.d.comb += led.eq(value)
        return m
