"""The engine's output beats, one word at a time: for a link that carries words."""

from amaranth.hdl import C, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..lib.kept_register import kept_register
from .layouts import result_beat_layout, word_shape

__all__ = ["BeatSerializer"]


class BeatSerializer(wiring.Component):
    """Sends the ``count`` words of each :func:`~.layouts.result_beat_layout` beat in
    order, word 0 first, one every other cycle from the second after the beat is taken.

    A beat is taken into a shift register that moves a word on as each word leaves, so the word
    offered is always its first word and no word select sits on the path. While it is empty the
    shift register follows ``i_stream``'s payload, and ``i_stream.ready`` is that emptiness, a
    flip-flop: the engine's output handshake does not reach across to the link's registers.

    The shift register is as wide as a result row and spreads over the die with the buffers
    that fill it, so nothing combinational may reach all of its clock enables. The word that
    leaves moves the rest on the cycle after, and every word register has its own copies of
    the two decisions, load or move, registered a cycle ahead (see
    :func:`~..lib.kept_register.kept_register`). That costs an idle cycle after every word
    and one after a beat is taken, which a link that carries a word in many cycles never
    notices. ``o_stream`` starts at flip-flops.

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
        # No beat is held: the words follow the input, and the next input beat is taken.
        empty = Signal(init=1)
        # The beat's ``count``, taken with it, and a cycle to work out ``more`` from it before
        # the first word is offered: the input's payload then reaches nothing but registers.
        count = Signal.like(i.payload.count)
        arming = Signal()
        # ``more[j]``: a word ``j`` places behind the offered one follows it, a thermometer
        # that moves with the words, so that the offered word's being the last is a flip-flop.
        more = Signal(cols)
        last = ~more[1] if cols > 1 else C(1, 1)

        leaves = o.valid & o.ready
        empty_next = Mux(empty, ~i.valid, leaves & last)
        move_next = leaves & ~last
        moving = Signal()
        m.d.sync += [empty.eq(empty_next), moving.eq(move_next), arming.eq(empty & i.valid)]
        m.d.comb += i.ready.eq(empty)

        with m.If(empty):
            m.d.sync += count.eq(i.payload.count)
        with m.If(arming):
            m.d.sync += [more[j].eq(count > j) for j in range(1, cols)]
        with m.If(moving):
            m.d.sync += more.eq(more[1:])
        with m.If(arming | moving):
            m.d.sync += o.valid.eq(1)
        with m.Elif(o.ready):
            m.d.sync += o.valid.eq(0)

        # Word 0 is the one offered; word ``j`` moves to ``j - 1``.
        for j in range(cols):
            target = o.payload if j == 0 else words[j]
            load = Signal(init=1, name=f"load_word{j}")
            enable = Signal(init=1, name=f"enable_word{j}")
            kept_register(m, platform, load, empty_next)
            kept_register(m, platform, enable, empty_next | move_next)
            following = words[j + 1] if j + 1 < cols else target
            with m.If(enable):
                m.d.sync += target.eq(Mux(load, i.payload.data[j], following))
        return m
