"""What every board runs: the protocol bridge in front of a GEMM engine, on bytes or a UART."""

from amaranth.hdl import DomainRenamer, Module
from amaranth.lib import data, wiring, stream
from amaranth.lib.wiring import In, Out

from . import protocol
from .engine.beat_serializer import BeatSerializer
from .bridge.bridge import Bridge, frame_timeout_cycles, refused_unused
from .engine.decoder import connect_with_features
from .engine.engine import GemmEngine
from .engine.layouts import word_shape
from .lib.stream_cdc import StreamCDC
from .lib.stream_register import StreamRegister
from .lib.uart import UARTReceiver, UARTTransmitter, baud_divisor
from .protocol import DEFAULT_BAUD

__all__ = ["BoardCore", "board_status_layout"]


def board_status_layout():
    """Status pins of a :class:`BoardCore`, for LEDs.

    ``busy``, ``error`` and ``code`` are the engine's (a job is running; a command was refused
    since the last CLEAR, and why: :class:`~.engine.protocol.ErrorCode`); ``link`` is set
    while the bridge receives, executes or answers a request.
    """
    return data.StructLayout({"busy": 1, "error": 1, "code": 4, "link": 1})


class BoardCore(wiring.Component):
    """A :class:`~.bridge.bridge.Bridge` and a :class:`~.engine.engine.GemmEngine`, connected.

    Two variants, chosen by ``baud``:

    * ``baud=None``: the host's bytes come and go on the streams ``i_stream`` and
      ``o_stream`` (the virtual board feeds them from a pty);
    * ``baud`` given: they travel on the UART pins ``rx`` and ``tx`` (8N1 at ``baud``, the
      divisor ``clock_hz / baud`` may be fractional; see :mod:`.lib.uart`). The board tops use
      this one.

    The frame and READ timeout (:attr:`timeout_cycles`) is
    :data:`~.protocol.FRAME_TIMEOUT_BYTES` byte times at ``baud``, or at
    :data:`~.lib.uart.DEFAULT_BAUD` for the stream variant, unless ``timeout_cycles`` is given.

    With ``link_clock_hz`` the bridge (and the UART) run in a clock domain of their own,
    ``link``, and the engine alone in ``sync``; command and result words cross a word at a time
    (:class:`~.lib.stream_cdc.StreamCDC`). A link at a few Mbaud needs no fast clock, and the
    bridge's control logic then sets no limit on the engine's: on a big FPGA the two sit far
    apart, and a path between them would cross the die.

    Parameters
    ----------
    engine_config : EngineConfig
    clock_hz : float
        Frequency of the ``sync`` clock.
    baud : float or None
        UART line rate, or None for the byte-stream variant.
    max_payload : int
        The bridge's buffer size (see :class:`~.bridge.bridge.Bridge`).
    timeout_cycles : int or None
        Explicit timeout in cycles (of the link clock).
    link_clock_hz : float or None
        Frequency of the ``link`` domain the bridge and the UART then run in; ``None`` runs
        them in ``sync``. The divisor and the timeout follow this clock; INFO reports
        ``clock_hz``, the engine's.

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
                 max_payload=protocol.MIN_MAX_PAYLOAD, timeout_cycles=None, link_clock_hz=None):
        with refused_unused(self):
            link_hz = clock_hz if link_clock_hz is None else link_clock_hz
            self._link_clock_hz = link_clock_hz
            self._divisor = None if baud is None else baud_divisor(link_hz, baud)
            if timeout_cycles is None:
                timeout_cycles = frame_timeout_cycles(link_hz,
                                                      DEFAULT_BAUD if baud is None else baud)
            # Built here rather than in elaborate() so that their checks run at construction
            # and the INFO contents are known before elaboration.
            self._bridge = Bridge(engine_config, clock_hz=clock_hz, max_payload=max_payload,
                                  timeout_cycles=timeout_cycles)
            # Split, the command words' features are worked out in the link's slow clock
            # and cross with the words, so that in the engine's clock the words go from the
            # crossing's register to the decoder's with nothing in between.
            self._engine = GemmEngine(engine_config, word_features=link_clock_hz is not None)
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

    @property
    def link_clock_hz(self):
        """Frequency of the ``link`` domain, or None when the bridge runs in ``sync``."""
        return self._link_clock_hz

    def elaborate(self, platform):
        m = Module()
        bridge = self._bridge
        m.submodules.engine = engine = self._engine
        # The link side: the bridge, and the UART with its registers. ``add`` puts a link-side
        # module into the link domain when it has one.
        split = self._link_clock_hz is not None

        def add(name, module):
            m.submodules[name] = DomainRenamer("link")(module) if split else module
            return module
        add("bridge", bridge)

        # Registers both ways: the bridge's and the engine's handshakes are deep enough that a
        # path through both would set the board's clock. The engine's result rows leave a
        # word at a time, as the bridge sends them.
        word = word_shape(self._engine.config)
        m.submodules.rsp_register = rsp_register = StreamRegister(word)
        m.submodules.serializer = serializer = BeatSerializer(self._engine.config)
        wiring.connect(m, engine.o_stream, serializer.i_stream)
        wiring.connect(m, serializer.o_stream, rsp_register.i_stream)
        if split:
            # Across the clocks a word at a time: the link carries far fewer words than a
            # handshake can, and every signal on either side starts at a flip-flop.
            command = engine.i_stream.payload.shape()
            m.submodules.cmd_cdc = cmd_cdc = StreamCDC(command, i_domain="link", o_domain="sync")
            m.submodules.rsp_cdc = rsp_cdc = StreamCDC(word, i_domain="sync", o_domain="link")
            connect_with_features(m, self._engine.config, bridge.cmd, cmd_cdc.i_stream)
            wiring.connect(m, cmd_cdc.o_stream, engine.i_stream)
            wiring.connect(m, rsp_register.o_stream, rsp_cdc.i_stream)
            wiring.connect(m, rsp_cdc.o_stream, bridge.rsp)
        else:
            # The engine takes its words through a register slice of its own, which is all
            # the bridge's handshake needs on this side.
            wiring.connect(m, bridge.cmd, engine.i_stream)
            wiring.connect(m, rsp_register.o_stream, bridge.rsp)

        if self._divisor is None:
            wiring.connect(m, wiring.flipped(self.i_stream), bridge.i_stream)
            wiring.connect(m, bridge.o_stream, wiring.flipped(self.o_stream))
        else:
            uart_rx = add("uart_rx", UARTReceiver(self._divisor))
            uart_tx = add("uart_tx", UARTTransmitter(self._divisor))
            m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx)]
            # The bridge's ready depends on its receiver's whole state, and the receiver's valid
            # on that ready: registered apart, the frame logic starts from a flip-flop.
            rx_register = add("rx_register", StreamRegister(8))
            wiring.connect(m, uart_rx.o_stream, rx_register.i_stream)
            wiring.connect(m, rx_register.o_stream, bridge.i_stream)
            # The transmitter's ready comes from its bit-time divider, and the bridge's reply
            # buffer address from that ready: registered apart, neither adds to the other.
            tx_register = add("tx_register", StreamRegister(8))
            wiring.connect(m, bridge.o_stream, tx_register.i_stream)
            wiring.connect(m, tx_register.o_stream, uart_tx.i_stream)

        m.d.comb += [
            self.status.busy.eq(engine.status.busy),
            self.status.error.eq(engine.status.error),
            self.status.code.eq(engine.status.code),
            self.status.link.eq(bridge.busy),
        ]
        return m
