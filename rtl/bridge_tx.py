"""The sending side of the protocol bridge: a reply header and payload out as frame bytes."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out

from . import protocol
from .bridge_layouts import buffer_read_signature, reply_layout

__all__ = ["ReplySender"]


class ReplySender(wiring.Component):
    """Sends one reply frame, ``SYNC KIND SEQ LEN_LO LEN_HI PAYLOAD CRC_LO CRC_HI``.

    The reply is taken on ``reply`` when the sender is idle; its payload is read from the
    reply buffer (or is the single ``code`` byte of an inline reply) and the CRC is computed
    on the bytes as they leave, one a cycle, so no byte waits for it.

    The reply buffer is read through a synchronous port whose address runs one byte ahead of
    the one on ``o_stream``: the byte offered is always the one at the current index, held
    for as long as the host stalls. The buffer must not be written while ``busy``.

    Parameters
    ----------
    max_payload : int
        Size of the reply buffer.

    Members
    -------
    reply : In(stream.Signature(reply_layout()))
        The reply to send (see :func:`~.bridge_layouts.reply_layout`).
    o_stream : Out(stream.Signature(8))
        Frame bytes to the host.
    reply_read : In(buffer_read_signature(max_payload))
        Read port of the reply buffer.
    busy : Out(1)
        A reply is being sent.
    """

    def __init__(self, *, max_payload):
        self._max_payload = max_payload
        super().__init__({
            "reply":      In(stream.Signature(reply_layout())),
            "o_stream":   Out(stream.Signature(8)),
            "reply_read": In(buffer_read_signature(max_payload)),
            "busy":       Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        out = self.o_stream
        take = Signal()
        m.d.comb += take.eq(out.valid & out.ready)

        m.submodules.crc = crc = catalog.CRC16_IBM_3740(data_width=8).create()
        m.d.comb += crc.data.eq(out.payload)

        reply = Signal(reply_layout())
        index = Signal(range(self._max_payload + 1))
        m.d.comb += self.reply_read.addr.eq(index)

        def header_byte(value, next_state):
            m.d.comb += [out.valid.eq(1), out.payload.eq(value)]
            with m.If(take):
                m.d.comb += crc.valid.eq(1)
                m.next = next_state

        with m.FSM(name="tx_fsm") as fsm:
            with m.State("IDLE"):
                m.d.comb += self.reply.ready.eq(1)
                with m.If(self.reply.valid):
                    m.d.sync += [reply.eq(self.reply.payload), index.eq(0)]
                    m.next = "SYNC"

            with m.State("SYNC"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(protocol.SYNC)]
                with m.If(take):
                    m.d.comb += crc.start.eq(1)    # SYNC is outside the CRC
                    m.next = "KIND"
            with m.State("KIND"):
                header_byte(reply.kind, "SEQ")
            with m.State("SEQ"):
                header_byte(reply.seq, "LEN_LO")
            with m.State("LEN_LO"):
                header_byte(reply.length[:8], "LEN_HI")
            with m.State("LEN_HI"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(reply.length[8:])]
                with m.If(take):
                    m.d.comb += crc.valid.eq(1)
                    with m.If(reply.length == 0):
                        m.next = "CRC_LO"
                    with m.Else():
                        m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                m.d.comb += [out.valid.eq(1),
                             out.payload.eq(Mux(reply.inline, reply.code, self.reply_read.data))]
                with m.If(take):
                    m.d.comb += [crc.valid.eq(1), self.reply_read.addr.eq(index + 1)]
                    m.d.sync += index.eq(index + 1)
                    with m.If(index == reply.length - 1):
                        m.next = "CRC_LO"

            # The CRC register holds the CRC of KIND..PAYLOAD from the cycle after the last
            # payload byte on, which is this state's first cycle.
            with m.State("CRC_LO"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc.crc[:8])]
                with m.If(take):
                    m.next = "CRC_HI"
            with m.State("CRC_HI"):
                m.d.comb += [out.valid.eq(1), out.payload.eq(crc.crc[8:])]
                with m.If(take):
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m
