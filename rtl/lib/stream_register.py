"""A full-rate register slice for a stream: every signal across it starts at a flip-flop."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StreamRegister"]


class StreamRegister(wiring.Component):
    """Pass a stream through registers, one beat a cycle, without combinational paths across.

    Between two components whose ``valid``/``ready`` logic is deep (the host bridge and the
    GEMM engine), a direct connection makes one long path out of both; on an FPGA that path
    sets the clock. This slice registers ``o_stream``'s ``valid`` and ``payload``, and
    ``i_stream.ready`` depends only on its own state: a second (skid) register catches the beat
    accepted on the cycle the output stalls. Beats keep their order; none is lost or doubled;
    throughput is one beat a cycle, latency one cycle.

    Parameters
    ----------
    shape : shape-like
        The payload shape.

    Members
    -------
    i_stream : In(stream.Signature(shape))
    o_stream : Out(stream.Signature(shape))
    """

    def __init__(self, shape):
        self._shape = shape
        super().__init__({
            "i_stream": In(stream.Signature(shape)),
            "o_stream": Out(stream.Signature(shape)),
        })

    def elaborate(self, platform):
        m = Module()
        i, o = self.i_stream, self.o_stream
        skid = Signal(self._shape, reset_less=True)
        skid_valid = Signal()

        m.d.comb += i.ready.eq(~skid_valid)
        # While empty, the skid register follows the input, so that its enable is a flip-flop
        # of its own and not the consumer's ready, which may come late from deep logic.
        with m.If(~skid_valid):
            m.d.sync += skid.eq(i.payload)
        with m.If(o.ready | ~o.valid):
            # The output register takes a new beat: the skidded one first, as it came first.
            with m.If(skid_valid):
                m.d.sync += [o.payload.eq(skid), o.valid.eq(1), skid_valid.eq(0)]
            with m.Else():
                m.d.sync += [o.payload.eq(i.payload), o.valid.eq(i.valid)]
        with m.Elif(i.valid & i.ready):
            m.d.sync += skid_valid.eq(1)
        return m
