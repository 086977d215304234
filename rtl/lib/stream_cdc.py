"""A stream across clock domains, a word at a time, with every signal starting at a flip-flop."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["StreamCDC"]


class StreamCDC(wiring.Component):
    """Carry a stream from ``i_domain`` to ``o_domain`` with a toggle handshake.

    The input side holds a word in a register and toggles ``req``; the output side sees the
    toggle through a synchronizer, copies the held word into its output register and toggles
    ``ack`` back. The next word is taken once the acknowledgement has come back, so a word
    crosses in a few cycles of each clock: far more than a serial link needs, and with none of
    an asynchronous FIFO's pointer arithmetic in either clock domain. ``i_stream.ready`` and
    ``o_stream.valid`` compare two flip-flops; ``o_stream``'s payload is a register.

    The held word crosses unsynchronized: it is stable from before its toggle until the
    acknowledgement, and the output side copies it only after the toggle has passed the
    synchronizer.

    Parameters
    ----------
    shape : shape-like
        The payload shape.
    i_domain, o_domain : str
        The clock domains of ``i_stream`` and ``o_stream``.
    stages : int
        Synchronizer stages each way.

    Members
    -------
    i_stream : In(stream.Signature(shape))
        In ``i_domain``.
    o_stream : Out(stream.Signature(shape))
        In ``o_domain``.
    """

    def __init__(self, shape, *, i_domain, o_domain, stages=2):
        self._shape = shape
        self._i_domain = i_domain
        self._o_domain = o_domain
        self._stages = stages
        super().__init__({
            "i_stream": In(stream.Signature(shape)),
            "o_stream": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        i_sync, o_sync = m.d[self._i_domain], m.d[self._o_domain]

        held = Signal(self._shape)
        req = Signal()
        ack = Signal()
        req_seen = Signal()
        ack_seen = Signal()
        m.submodules.req_sync = FFSynchronizer(req, req_seen, o_domain=self._o_domain,
                                               stages=self._stages)
        m.submodules.ack_sync = FFSynchronizer(ack, ack_seen, o_domain=self._i_domain,
                                               stages=self._stages)

        m.d.comb += i.ready.eq(req == ack_seen)
        with m.If(i.valid & i.ready):
            i_sync += [held.eq(i.payload), req.eq(~req)]

        with m.If(~o.valid | o.ready):
            with m.If(req_seen != ack):
                o_sync += [o.payload.eq(held), o.valid.eq(1), ack.eq(req_seen)]
            with m.Else():
                o_sync += o.valid.eq(0)
        return m
