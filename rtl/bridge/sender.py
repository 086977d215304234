"""The sending side of the protocol bridge: a reply header and payload out as frame bytes."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.crc import catalog
from amaranth.lib.wiring import In, Out

from .. import protocol
from .layouts import buffer_read_signature, reply_layout

__all__ = ["ReplySender"]


class ReplySender(wiring.Component):
    """Sends one reply frame, ``SYNC KIND SEQ LEN_LO LEN_HI PAYLOAD CRC_LO CRC_HI``.

    The reply is taken on ``reply`` when the sender is idle; its payload is read from the
    reply buffer (or is the single ``code`` byte of an inline reply) and the CRC is computed
    on the bytes as they leave, one a cycle, so no byte waits for it.

    The reply buffer is read through a synchronous port whose address, during the payload,
    runs one byte ahead of the one on ``o_stream`` and comes straight from a register: the
    byte read is offered on the cycle after a take (or on entering the payload), and a
    register holds it for as long as the host stalls. The buffer must not be written while
    ``busy``.

    Parameters
    ----------
    max_payload : int
        Size of the reply buffer.
    address_register : bool
        Drive the buffer's read address from a flip-flop of its own (which holds what the
        address mux would give), rather than through a mux of two: a logic level less
        before a distributed-RAM read. The bytes sent are the same, cycle for cycle.

    Members
    -------
    reply : In(stream.Signature(reply_layout()))
        The reply to send (see :func:`~.layouts.reply_layout`).
    o_stream : Out(stream.Signature(8))
        Frame bytes to the host.
    reply_read : In(buffer_read_signature(max_payload))
        Read port of the reply buffer.
    busy : Out(1)
        A reply is being sent.
    """

    def __init__(self, *, max_payload, address_register=False):
        self._max_payload = max_payload
        self._address_register = address_register
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
        # The read address comes from flip-flops, with no handshake or adder before the buffer
        # (distributed RAM reads within the cycle, so its address path adds to the read):
        # index + 1 kept in a register, and the byte at ``index`` held in ``held`` while the
        # host stalls. ``fresh``: the port's data is the byte at ``index`` (it read index + 1
        # after a take, or ``index`` itself before the payload).
        # ``in_payload`` and ``busy`` are the FSM's PAYLOAD and not-IDLE, kept as flip-flops of
        # their own so that the address needs no state decoding.
        index_next = Signal.like(index)
        fresh = Signal()
        held = Signal(8)
        in_payload = Signal()
        byte = Signal(8)
        if self._address_register:
            # ``address`` follows every update of ``index``, ``index_next`` and
            # ``in_payload`` below, so it always equals the mux.
            address = Signal.like(index)
            read_address = address
        else:
            read_address = Mux(in_payload, index_next, index)
        m.d.comb += [
            self.reply_read.addr.eq(read_address),
            byte.eq(Mux(fresh, self.reply_read.data, held)),
        ]

        def set_address(value):
            if self._address_register:
                m.d.sync += address.eq(value)
        m.d.sync += [held.eq(byte), fresh.eq(~in_payload | take)]

        def header_byte(value, next_state):
            m.d.comb += [out.valid.eq(1), out.payload.eq(value)]
            with m.If(take):
                m.d.comb += crc.valid.eq(1)
                m.next = next_state

        with m.FSM(name="tx_fsm"):
            with m.State("IDLE"):
                m.d.comb += self.reply.ready.eq(1)
                with m.If(self.reply.valid):
                    m.d.sync += [reply.eq(self.reply.payload), index.eq(0), index_next.eq(1),
                                 self.busy.eq(1)]
                    set_address(0)
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
                        m.d.sync += in_payload.eq(1)
                        set_address(index_next)
                        m.next = "PAYLOAD"

            with m.State("PAYLOAD"):
                m.d.comb += [out.valid.eq(1),
                             out.payload.eq(Mux(reply.inline, reply.code, byte))]
                with m.If(take):
                    m.d.comb += crc.valid.eq(1)
                    m.d.sync += [index.eq(index_next), index_next.eq(index_next + 1)]
                    set_address(index_next + 1)
                    with m.If(index_next == reply.length):
                        m.d.sync += in_payload.eq(0)
                        set_address(index_next)
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
                    m.d.sync += self.busy.eq(0)
                    m.next = "IDLE"

        return m
