"""What every board runs: the protocol bridge in front of a GEMM engine, on bytes or a UART."""

from amaranth.hdl import Module
from amaranth.lib import data, wiring, stream
from amaranth.lib.wiring import In, Out

from . import protocol
from .bridge import Bridge, frame_timeout_cycles, refused_unused
from .engine import GemmEngine
from .stream_register import StreamRegister
from .uart import DEFAULT_BAUD, UARTReceiver, UARTTransmitter, baud_divisor

__all__ = ["BoardCore", "board_status_layout"]


def board_status_layout():
    """Status pins of a :class:`BoardCore`, for LEDs.

    ``busy``, ``error`` and ``code`` are the engine's (a job is running; a command was refused
    since the last CLEAR, and why: :class:`~.engine_protocol.ErrorCode`); ``link`` is set
    while the bridge receives, executes or answers a request.
    """
    return data.StructLayout({"busy": 1, "error": 1, "code": 4, "link": 1})


class BoardCore(wiring.Component):
    """A :class:`~.bridge.Bridge` and a :class:`~.engine.GemmEngine`, connected.

    Two variants, chosen by ``baud``:

    * ``baud=None``: the host's bytes come and go on the streams ``i_stream`` and
      ``o_stream`` (the virtual board feeds them from a pty);
    * ``baud`` given: they travel on the UART pins ``rx`` and ``tx`` (8N1 at ``baud``, the
      divisor ``clock_hz / baud`` may be fractional; see :mod:`.uart`). The board tops use
      this one.

    The frame and READ timeout (:attr:`timeout_cycles`) is
    :data:`~.protocol.FRAME_TIMEOUT_BYTES` byte times at ``baud``, or at
    :data:`~.uart.DEFAULT_BAUD` for the stream variant, unless ``timeout_cycles`` is given.

    Parameters
    ----------
    engine_config : EngineConfig
    clock_hz : float
        Frequency of the ``sync`` clock.
    baud : float or None
        UART line rate, or None for the byte-stream variant.
    max_payload : int
        The bridge's buffer size (see :class:`~.bridge.Bridge`).
    timeout_cycles : int or None
        Explicit timeout in cycles.

    Members
    -------
    i_stream : In(stream.Signature(8))
        Request bytes (``baud=None`` only).
    o_stream : Out(stream.Signature(8))
        Reply bytes (``baud=None`` only).
    rx : In(1, init=1)
        UART line from the host, idle high, asynchronous (``baud`` given only).
    tx : Out(1, init=1)
        UART line to the host, idle high (``baud`` given only).
    status : Out(board_status_layout())
        Engine and link status, for LEDs.
    """

    def __init__(self, engine_config, *, clock_hz, baud=None,
                 max_payload=protocol.MIN_MAX_PAYLOAD, timeout_cycles=None):
        with refused_unused(self):
            self._divisor = None if baud is None else baud_divisor(clock_hz, baud)
            if timeout_cycles is None:
                timeout_cycles = frame_timeout_cycles(clock_hz,
                                                      DEFAULT_BAUD if baud is None else baud)
            # Built here rather than in elaborate() so that their checks run at construction
            # and the INFO contents are known before elaboration.
            self._bridge = Bridge(engine_config, clock_hz=clock_hz, max_payload=max_payload,
                                  timeout_cycles=timeout_cycles)
            self._engine = GemmEngine(engine_config)
        if baud is None:
            members = {
                "i_stream": In(stream.Signature(8)),
                "o_stream": Out(stream.Signature(8)),
            }
        else:
            members = {
                "rx": In(1, init=1),
                "tx": Out(1, init=1),
            }
        members["status"] = Out(board_status_layout())
        super().__init__(members)

    @property
    def engine_config(self):
        """The :class:`EngineConfig` of the engine."""
        return self._bridge.engine_config

    @property
    def info(self):
        """The :class:`~.protocol.Info` the board answers INFO with."""
        return self._bridge.info

    @property
    def timeout_cycles(self):
        """Cycles of silence that drop a frame, and that end a READ early."""
        return self._bridge.timeout_cycles

    @property
    def divisor(self):
        """UART clock cycles per bit (a :class:`~fractions.Fraction`), or None for streams."""
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        m.submodules.bridge = bridge = self._bridge
        m.submodules.engine = engine = self._engine

        # Registers both ways: the bridge's and the engine's handshakes are deep enough that a
        # path through both would set the board's clock.
        word = self._engine.i_stream.payload.shape()
        m.submodules.cmd_register = cmd_register = StreamRegister(word)
        m.submodules.rsp_register = rsp_register = StreamRegister(word)
        wiring.connect(m, bridge.cmd, cmd_register.i_stream)
        wiring.connect(m, cmd_register.o_stream, engine.i_stream)
        wiring.connect(m, engine.o_stream, rsp_register.i_stream)
        wiring.connect(m, rsp_register.o_stream, bridge.rsp)

        if self._divisor is None:
            wiring.connect(m, wiring.flipped(self.i_stream), bridge.i_stream)
            wiring.connect(m, bridge.o_stream, wiring.flipped(self.o_stream))
        else:
            m.submodules.uart_rx = uart_rx = UARTReceiver(self._divisor)
            m.submodules.uart_tx = uart_tx = UARTTransmitter(self._divisor)
            m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
            # The bridge's ready depends on its receiver's whole state, and the receiver's valid
            # on that ready: registered apart, the frame logic starts from a flip-flop.
            m.submodules.rx_register = rx_register = StreamRegister(8)
            wiring.connect(m, uart_rx.o_stream, rx_register.i_stream)
            wiring.connect(m, rx_register.o_stream, bridge.i_stream)
            # The transmitter's ready comes from its bit-time divider, and the bridge's reply
            # buffer address from that ready: registered apart, neither adds to the other.
            m.submodules.tx_register = tx_register = StreamRegister(8)
            wiring.connect(m, bridge.o_stream, tx_register.i_stream)
            wiring.connect(m, tx_register.o_stream, uart_tx.i_stream)

        m.d.comb += [
            self.status.busy.eq(engine.status.busy),
            self.status.error.eq(engine.status.error),
            self.status.code.eq(engine.status.code),
            self.status.link.eq(bridge.busy),
        ]
        return m
