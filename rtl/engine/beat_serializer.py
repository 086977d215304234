"""The engine's output beats, one word at a time: for a link that carries words."""

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .layouts import result_beat_layout, word_shape

__all__ = ["BeatSerializer"]


class BeatSerializer(wiring.Component):
    """Sends the ``count`` words of each :func:`~.layouts.result_beat_layout` beat in
    order, one a cycle, word 0 first.

    A beat is taken into a shift register that moves a word on as each word leaves, so the word
    offered is always its first word and no word select sits on the path. The next beat is
    taken once its predecessor's last word has left, on the cycle after: ``i_stream.ready``
    then depends on the serializer's own flip-flops alone, so that the engine's output
    handshake does not reach across to the link's registers. That costs one idle cycle
    between beats, which a link that carries a word at a time never notices. ``o_stream``
    starts at flip-flops.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    i_stream : In(stream.Signature(result_beat_layout(config)))
        Beats from :class:`~.engine.GemmEngine`.
    o_stream : Out(stream.Signature(word))
        Their words.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "i_stream": In(stream.Signature(result_beat_layout(config))),
            "o_stream": Out(stream.Signature(word_shape(config))),
        })

    def elaborate(self, platform):
        m = Module()
        cols = self._config.array.cols
        i, o = self.i_stream, self.o_stream
        words = Signal.like(i.payload.data)
        # Words after the one offered, and ``left == 0``, kept beside it.
        left = Signal(range(cols))
        last = Signal(init=1)

        move = ~o.valid | o.ready
        m.d.comb += i.ready.eq(last & ~o.valid)
        with m.If(move):
            with m.If(~last):
                if cols > 1:
                    m.d.sync += [o.payload.eq(words[1]), left.eq(left - 1), last.eq(left == 1)]
                    for j in range(1, cols - 1):
                        m.d.sync += words[j].eq(words[j + 1])
            with m.Else():
                taken = i.valid & i.ready
                m.d.sync += [o.payload.eq(i.payload.data[0]), o.valid.eq(taken),
                             left.eq(i.payload.count - 1), last.eq(~taken | (i.payload.count == 1))]
                for j in range(1, cols):
                    m.d.sync += words[j].eq(i.payload.data[j])
        return m
