"""The receiving side of the protocol bridge: bytes in, checked frames out."""

from contextlib import contextmanager

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out

from .. import protocol
from .layouts import FrameStatus, buffer_write_signature, frame_layout

__all__ = ["FrameReceiver"]


class FrameReceiver(wiring.Component):
    """Hunts SYNC, parses a request frame, stores its payload and checks its CRC.

    Bytes before a SYNC are skipped. After the header, a frame whose LEN exceeds
    ``max_payload`` is handed over at once with status ``TOO_LONG``; its remaining
    ``LEN + 2`` bytes are then read and dropped, so that payload bytes equal to SYNC are not
    taken for frames. Any other frame's payload goes to the payload buffer while the CRC is
    computed, one byte a cycle; the frame is handed over after its last CRC byte, as ``OK`` or
    ``BAD_CRC``.

    A handed-over frame is held on ``frame`` (and no byte is taken) until the consumer
    asserts ``ready``, which it does once it no longer needs the payload buffer: the buffer is
    not overwritten under it.

    A frame (or a drain) that stops arriving for ``timeout_cycles`` cycles is dropped and
    the hunt for SYNC starts again; a byte arriving on that very cycle is left for the hunt.

    Parameters
    ----------
    max_payload : int
        Longest payload accepted; also the size of the payload buffer.
    word_bytes : int
        Bytes of an engine word: ``whole_words`` says whether LEN is a multiple of it.
    timeout_cycles : int
        Cycles of silence after which a half-received frame is dropped.

    Members
    -------
    i_stream : In(stream.Signature(8))
        Bytes from the host.
    frame : Out(stream.Signature(frame_layout()))
        Received frames (see :func:`~.layouts.frame_layout`).
    payload_write : In(buffer_write_signature(max_payload))
        Write port of the payload buffer: payload byte ``i`` goes to address ``i``.
    busy : Out(1)
        A frame is being received, drained or held.
    """

    def __init__(self, *, max_payload, word_bytes, timeout_cycles):
        self._max_payload = max_payload
        self._word_bytes = word_bytes
        self._timeout_cycles = timeout_cycles
        super().__init__({
            "i_stream":      In(stream.Signature(8)),
            "frame":         Out(stream.Signature(frame_layout())),
            "payload_write": In(buffer_write_signature(max_payload)),
            "busy":          Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        byte = self.i_stream.payload
        take = Signal()
        m.d.comb += take.eq(self.i_stream.valid & self.i_stream.ready)

        m.submodules.crc = crc = catalog.CRC16_IBM_3740(data_width=8).create()
        m.d.comb += crc.data.eq(byte)

        kind = Signal(8)
        seq = Signal(8)
        length = Signal(16)
        crc_lo = Signal(8)
        received_crc = Signal(16)
        status = Signal(FrameStatus)
        arg = Signal(16)
        index = Signal(range(self._max_payload + 1))
        # Payload bytes modulo word_bytes: LEN is whole words when this is back at zero.
        phase = Signal(range(self._word_bytes))
        # Bytes of a TOO_LONG frame still to drop: its payload and CRC.
        left = Signal(range(0xFFFF + protocol.CRC_BYTES + 1))

        # Silence timer: counts cycles without a byte while inside a frame. ``timed_out`` is
        # ``timer == timeout_cycles``, registered (set as the timer steps onto that count) so
        # that the wide comparison is not on the path from ``ready`` to the buffer.
        in_frame = Signal()
        timer = Signal(range(self._timeout_cycles + 1))
        timed_out = Signal()
        counting = Signal()
        m.d.comb += counting.eq(in_frame & ~take & ~timed_out)
        m.d.sync += timed_out.eq(counting & (timer == self._timeout_cycles - 1))
        with m.If(counting):
            m.d.sync += timer.eq(timer + 1)
        with m.Else():
            m.d.sync += timer.eq(0)

        @contextmanager
        def next_byte():
            # Inside a frame: the body runs for a byte taken; silence drops the frame (and
            # leaves a byte arriving on that cycle to the hunt).
            m.d.comb += [in_frame.eq(1), self.i_stream.ready.eq(~timed_out)]
            with m.If(timed_out):
                m.next = "HUNT"
            with m.Elif(take):
                yield

        def header_byte(target, next_state):
            with next_byte():
                m.d.comb += crc.valid.eq(1)
                m.d.sync += target.eq(byte)
                m.next = next_state

        with m.FSM(name="rx_fsm"):
            with m.State("HUNT"):
                m.d.comb += self.i_stream.ready.eq(1)
                with m.If(take & (byte == protocol.SYNC)):
                    m.d.comb += crc.start.eq(1)
                    m.next = "KIND"

            with m.State("KIND"):
                header_byte(kind, "SEQ")
            with m.State("SEQ"):
                header_byte(seq, "LEN_LO")
            with m.State("LEN_LO"):
                header_byte(length[:8], "LEN_HI")
            with m.State("LEN_HI"):
                full = Cat(length[:8], byte)
                with next_byte():
                    m.d.comb += crc.valid.eq(1)
                    m.d.sync += [length[8:].eq(byte), index.eq(0), phase.eq(0), arg.eq(0)]
                    with m.If(full > self._max_payload):
                        m.d.sync += [status.eq(FrameStatus.TOO_LONG),
                                     left.eq(full + protocol.CRC_BYTES)]
                        m.next = "HOLD"
                    with m.Elif(full == 0):
                        m.next = "CRC_LO"
                    with m.Else():
                        m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                m.d.comb += [
                    self.payload_write.addr.eq(index),
                    self.payload_write.data.eq(byte),
                ]
                with next_byte():
                    m.d.comb += [crc.valid.eq(1), self.payload_write.en.eq(1)]
                    m.d.sync += index.eq(index + 1)
                    with m.If(phase == self._word_bytes - 1):
                        m.d.sync += phase.eq(0)
                    with m.Else():
                        m.d.sync += phase.eq(phase + 1)
                    with m.If(index == 0):
                        m.d.sync += arg[:8].eq(byte)
                    with m.If(index == 1):
                        m.d.sync += arg[8:].eq(byte)
                    with m.If(index == length - 1):
                        m.next = "CRC_LO"

            with m.State("CRC_LO"):
                with next_byte():
                    m.d.sync += crc_lo.eq(byte)
                    m.next = "CRC_HI"

            with m.State("CRC_HI"):
                with next_byte():
                    # The CRC register settled the cycle after the last payload byte, at
                    # least one byte ago. The CRC travels little-endian, so it is compared
                    # rather than fed through (the residue check expects it MSB first).
                    m.d.sync += received_crc.eq(Cat(crc_lo, byte))
                    with m.If(crc.crc == Cat(crc_lo, byte)):
                        m.d.sync += status.eq(FrameStatus.OK)
                    with m.Else():
                        m.d.sync += status.eq(FrameStatus.BAD_CRC)
                    m.next = "HOLD"

            with m.State("HOLD"):
                m.d.comb += self.frame.valid.eq(1)
                with m.If(self.frame.ready):
                    with m.If(status == FrameStatus.TOO_LONG):
                        m.next = "DRAIN"
                    with m.Else():
                        m.next = "HUNT"

            with m.State("DRAIN"):
                with next_byte():
                    m.d.sync += left.eq(left - 1)
                    with m.If(left == 1):
                        m.next = "HUNT"

        m.d.comb += [
            self.frame.payload.kind.eq(kind),
            self.frame.payload.seq.eq(seq),
            self.frame.payload.length.eq(length),
            self.frame.payload.crc.eq(received_crc),
            self.frame.payload.status.eq(status),
            self.frame.payload.whole_words.eq(phase == 0),
            self.frame.payload.arg.eq(arg),
            self.busy.eq(in_frame | self.frame.valid),
        ]
        return m
