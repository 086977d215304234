"""The bridge between the wire protocol (:mod:`~systolic.rtl.protocol`) and the GEMM engine's word streams."""

import math
from contextlib import contextmanager
from numbers import Real

from amaranth.hdl import Cat, C, Module, Mux, unsigned
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .. import protocol
from ..protocol import BITS_PER_BYTE, DEFAULT_BAUD
from .executor import RequestExecutor
from ..lib.buffer_port import buffer_attrs, buffer_read_port
from .layouts import buffer_addr_width
from .receiver import FrameReceiver
from .sender import ReplySender
from ..engine.config import EngineConfig

__all__ = ["Bridge", "frame_timeout_cycles", "refused_unused"]


def _check_rate(name, value):
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name}={value!r} is invalid: must be a positive number")


@contextmanager
def refused_unused(component):
    """Let ``component``'s constructor refuse its parameters without an UnusedElaboratable
    warning: a component that was never built cannot be elaborated, and the exception says
    why."""
    try:
        yield
    except (TypeError, ValueError):
        component._MustUse__silence = True
        raise


def frame_timeout_cycles(clock_hz, baud=DEFAULT_BAUD):
    """Clock cycles of :data:`~systolic.rtl.protocol.FRAME_TIMEOUT_BYTES` byte times at ``baud``.

    A byte time is :data:`BITS_PER_BYTE` bit times; the result is rounded up. At 12 MHz and
    1 Mbaud: 1024 * 120 = 122 880 cycles (10 ms).
    """
    _check_rate("clock_hz", clock_hz)
    _check_rate("baud", baud)
    return math.ceil(protocol.FRAME_TIMEOUT_BYTES * BITS_PER_BYTE * clock_hz / baud)


class Bridge(wiring.Component):
    """Speaks the wire protocol on a byte stream and drives the engine's word streams.

    Implements :mod:`~systolic.rtl.protocol` for one host: requests come in on ``i_stream``, replies go
    out on ``o_stream``; WRITE words go to ``cmd`` (connect to ``GemmEngine.i_stream``) and
    READ words come from ``rsp`` (connect to ``GemmEngine.o_stream``). A request is executed
    only once its whole frame is in the payload buffer and its CRC checked, so a corrupted
    WRITE never reaches the engine. The parts: :class:`~.receiver.FrameReceiver`,
    :class:`~.executor.RequestExecutor` (error codes, replay of the last reply, READ
    timeout) and :class:`~.sender.ReplySender`.

    **Repeats.** A request with the SEQ *and the CRC* of the last executed one (the same
    bytes, as a retry is) gets the reply sent for it, without being executed again. Matching
    the CRC too means a host that starts over with a SEQ the board last saw, but another
    request, gets that request executed rather than a stale reply. ERROR replies are not
    remembered: a retry after one is executed (nothing was).

    **Timeout.** ``timeout_cycles`` serves both protocol timeouts: a frame is dropped (no
    reply) once ``timeout_cycles`` consecutive cycles pass without one of its bytes (a gap of
    ``timeout_cycles - 1`` idle cycles is still fine), and a READ returns the words it has
    once the engine sent none for ``timeout_cycles`` cycles. By default it is
    :data:`~systolic.rtl.protocol.FRAME_TIMEOUT_BYTES` byte times at ``baud``
    (:func:`frame_timeout_cycles`); a byte-stream user with no real line rate (a simulation)
    may give ``timeout_cycles`` directly.

    **Buffers.** One memory of ``2 * 2**ceil(log2(max_payload))`` bytes: the lower half
    holds the payload of the frame being received or executed, the upper half the reply of
    the last executed request (kept for replays). One port of each kind suffices because
    the receiver and the executor never write at once (the receiver holds a finished frame
    until it is executed) and the executor and the sender never read at once (a request is
    executed only while no reply is being sent); the next frame may arrive while a reply is
    being sent. For ``max_payload=256`` that is one 512 x 8 block RAM (one iCE40 EBR). If
    the engine's ``buffer_ram`` asks for distributed RAM, the two buffers are two memories
    of ``2**ceil(log2(max_payload))`` bytes instead, each with its own ports, so that no
    address bit selects the half and each read mux is one level shallower.

    **Flow.** The bridge takes no byte while a received frame waits for execution or is
    executed. A host that waits for each reply before the next request, as the protocol has
    it, never meets that stall; one that sends back to back only sees backpressure on
    ``i_stream`` (a UART receiver in front of the bridge would drop those bytes).

    A WRITE is acknowledged once the engine has taken all its words, and the bridge executes
    nothing else meanwhile. The engine delays a START (and its READ and STATUS commands) until
    the previous job's results have been sent, so a host must READ a job's results before it
    WRITEs the next START: a WRITE whose words the engine stops taking for ``timeout_cycles``
    is answered ERROR(STALLED) (:class:`~systolic.rtl.protocol.ErrorCode`), the rest of its words
    dropped, and the bridge takes requests again. Loads of the other bank may go first
    (double buffering); ``tests/rtl/test_board_core.py`` runs a tiled GEMM in that order.

    Parameters
    ----------
    engine_config : EngineConfig
        The engine behind the bridge (word width, INFO fields, the RAM of the buffers).
    clock_hz : float
        Clock frequency: INFO reports it, and it sets the default timeout.
    max_payload : int
        Longest payload accepted and sent, from :data:`~systolic.rtl.protocol.MIN_MAX_PAYLOAD` to 65535.
    baud : float
        Line rate that sets the default timeout (:data:`~systolic.rtl.protocol.DEFAULT_BAUD`).
    timeout_cycles : int or None
        Explicit timeout in cycles (at least 1) instead of the one derived from ``baud``.

    Members
    -------
    i_stream : In(stream.Signature(8))
        Request bytes from the host (a UART receiver).
    o_stream : Out(stream.Signature(8))
        Reply bytes to the host (a UART transmitter).
    cmd : Out(stream.Signature(word_width))
        Words for the engine's ``i_stream``.
    rsp : In(stream.Signature(word_width))
        Words from the engine's ``o_stream``.
    busy : Out(1)
        A frame is being received, executed or answered (for a link LED).
    """

    def __init__(self, engine_config, *, clock_hz, max_payload=protocol.MIN_MAX_PAYLOAD,
                 baud=DEFAULT_BAUD, timeout_cycles=None):
        with refused_unused(self):
            self._check(engine_config, clock_hz, max_payload, timeout_cycles)
            if timeout_cycles is None:
                timeout_cycles = frame_timeout_cycles(clock_hz, baud)
            self._info = protocol.info_from_config(engine_config, clock_hz=clock_hz, max_payload=max_payload)
        self._engine_config = engine_config
        self._max_payload = max_payload
        self._timeout_cycles = timeout_cycles
        word = unsigned(engine_config.word_width)
        super().__init__({
            "i_stream": In(stream.Signature(8)),
            "o_stream": Out(stream.Signature(8)),
            "cmd":      Out(stream.Signature(word)),
            "rsp":      In(stream.Signature(word)),
            "busy":     Out(1),
        })

    @staticmethod
    def _check(engine_config, clock_hz, max_payload, timeout_cycles):
        if not isinstance(engine_config, EngineConfig):
            raise TypeError(f"Bridge needs an EngineConfig, got {type(engine_config).__name__}")
        _check_rate("clock_hz", clock_hz)
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) \
                or not protocol.MIN_MAX_PAYLOAD <= max_payload <= 0xFFFF:
            raise ValueError(f"max_payload={max_payload!r} is invalid: must be an integer from "
                             f"{protocol.MIN_MAX_PAYLOAD} to 65535")
        if timeout_cycles is not None and (isinstance(timeout_cycles, bool)
                                           or not isinstance(timeout_cycles, int)
                                           or timeout_cycles < 1):
            raise ValueError(f"timeout_cycles={timeout_cycles!r} is invalid: must be a "
                             f"positive integer")

    @property
    def engine_config(self):
        """The :class:`EngineConfig` of the engine behind the bridge."""
        return self._engine_config

    @property
    def info(self):
        """The :class:`~systolic.rtl.protocol.Info` the bridge answers INFO with."""
        return self._info

    @property
    def max_payload(self):
        """Longest payload accepted and sent."""
        return self._max_payload

    @property
    def timeout_cycles(self):
        """Cycles of silence that drop a frame, and that end a READ early."""
        return self._timeout_cycles

    @property
    def word_bytes(self):
        """Bytes of one engine word on the wire."""
        return self._info.word_bytes

    def elaborate(self, platform):
        m = Module()
        max_payload = self._max_payload

        m.submodules.receiver = receiver = FrameReceiver(
            max_payload=max_payload, word_bytes=self.word_bytes,
            timeout_cycles=self._timeout_cycles)
        m.submodules.executor = executor = RequestExecutor(
            word_width=self._engine_config.word_width, max_payload=max_payload,
            timeout_cycles=self._timeout_cycles, info=protocol.encode_info(self._info))
        distributed = self._engine_config.buffer_ram != "block"
        m.submodules.sender = sender = ReplySender(max_payload=max_payload,
                                                   address_register=distributed)

        wiring.connect(m, wiring.flipped(self.i_stream), receiver.i_stream)
        wiring.connect(m, receiver.frame, executor.frame)
        wiring.connect(m, executor.reply, sender.reply)
        wiring.connect(m, sender.o_stream, wiring.flipped(self.o_stream))
        wiring.connect(m, executor.cmd, wiring.flipped(self.cmd))
        wiring.connect(m, wiring.flipped(self.rsp), executor.rsp)

        payload_write, reply_write = receiver.payload_write, executor.reply_write
        payload_read, reply_read = executor.payload_read, sender.reply_read
        attrs = buffer_attrs(self._engine_config.buffer_ram)
        if not distributed:
            # Both buffers in one memory, the top address bit choosing the half (see the
            # class docstring for why the ports are never wanted twice at once). A read and a
            # write on one cycle are of different halves, as buffer_read_port requires.
            depth = 2 << buffer_addr_width(max_payload)
            m.submodules.buffers = buffers = Memory(shape=8, depth=depth, init=[], attrs=attrs)
            write = buffers.write_port()
            read = buffer_read_port(m, buffers)
            m.d.comb += [
                write.en.eq(payload_write.en | reply_write.en),
                write.addr.eq(Mux(reply_write.en, Cat(reply_write.addr, C(1, 1)),
                                  Cat(payload_write.addr, C(0, 1)))),
                write.data.eq(Mux(reply_write.en, reply_write.data, payload_write.data)),
                read.addr.eq(Mux(sender.busy, Cat(reply_read.addr, C(1, 1)),
                                 Cat(payload_read.addr, C(0, 1)))),
                payload_read.data.eq(read.data),
                reply_read.data.eq(read.data),
            ]
        else:
            # Distributed RAM costs no more as two memories, and each read mux is then one
            # level shallower, with no address mux in front of it: a memory per buffer, each
            # with its own ports.
            depth = 1 << buffer_addr_width(max_payload)
            m.submodules.payload_buffer = payload_buffer = Memory(
                shape=8, depth=depth, init=[], attrs=attrs)
            m.submodules.reply_buffer = reply_buffer = Memory(
                shape=8, depth=depth, init=[], attrs=attrs)
            for buffer, write_side, read_side in ((payload_buffer, payload_write, payload_read),
                                                  (reply_buffer, reply_write, reply_read)):
                wiring.connect(m, write_side, buffer.write_port())
                wiring.connect(m, read_side, buffer_read_port(m, buffer))
        m.d.comb += [
            executor.sender_busy.eq(sender.busy),
            self.busy.eq(receiver.busy | executor.busy | sender.busy),
        ]
        return m
