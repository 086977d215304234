"""The operand loader of the GEMM engine: data words of a LOAD into the operand buffers."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .layouts import a_write_signature, b_write_signature, word_shape

__all__ = ["OperandLoader"]


class OperandLoader(wiring.Component):
    """Writes a LOAD's data words into the operand buffers, one word a cycle.

    The words come beat by beat (:func:`~systolic.sim.engine_tiling.load_a_words`): for each
    block of ``rows`` rows of A (``cols`` columns of B), for each K step, the block's operands of
    that step, packed ``P = word_width // width`` a word into a *group* of
    ``ceil(lanes / P)`` words. Word ``g`` of a group holds lanes ``g*P .. g*P + P - 1``, all at
    one address of the buffer: the loader writes the whole word on one cycle with those lanes'
    enables, so a steady stream loads ``P`` operands a cycle, and operand slot ``s`` of a word
    always goes to a lane ``s (mod P)``: the data wiring is fixed, only the enables move.

    Block ``b`` of a bank starts at word ``b * k_depth`` of the bank; K step ``k`` of the block
    is the word ``k`` after it, so the feeder reads a beat with one read of each memory. A
    weight-stationary engine's A comes the other way round (``load_a_words``): for each block
    of ``rows`` columns of K, for each row of A, that row's operands of the block; block ``b``
    starts at word ``b * max_m`` (``config.a_block_words``) and row ``m`` is the word ``m``
    after it. The loader walks both alike, the roles of M and K swapped.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    setup : In(1)
        Prepare a load of ``target_b``, ``bank``, ``m``, ``k``, ``n`` (read on this cycle).
    target_b, bank : In(1)
        Load B (else A); the bank.
    m, k, n : In
        Shape of the matrix to load (A is m x k, B is k x n).
    i_stream : In(stream.Signature(word))
        The data words.
    bank_busy : In(1)
        The feeder reads this bank: hold the words until it is done. (The first word is
        taken two cycles after ``setup`` at the earliest.)
    a_write, b_write : In(WritePort.Signature)
        Operand memory write ports (registered: a word is written the cycle after it is taken).
    done : Out(1)
        The last word is taken on this cycle.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "setup":     In(1),
            "target_b":  In(1),
            "bank":      In(1),
            "m":         In(range(config.max_m + 1)),
            "k":         In(range(config.max_k + 1)),
            "n":         In(range(config.max_n + 1)),
            "i_stream":  In(stream.Signature(word_shape(config))),
            "bank_busy": In(1),
            "a_write":   In(a_write_signature(config)),
            "b_write":   In(b_write_signature(config)),
            "done":      Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        array = config.array
        groups = (("a", self.a_write, array.rows, config.a_per_word, config.a_words_per_beat,
                   array.a_width),
                  ("b", self.b_write, array.cols, config.b_per_word, config.b_words_per_beat,
                   array.b_width))
        max_group = max(config.a_words_per_beat, config.b_words_per_beat)

        load_b = Signal()
        # The word of the group, the K step, the address of the block's first word, and the
        # rows of A (columns of B) from the current block on.
        part = Signal(range(max_group))
        # A weight-stationary engine's A steps over M inside a block of K.
        ws_a = config.array.weight_stationary
        kk = Signal(range(max(config.max_k, config.max_m if ws_a else 1)))
        block = Signal(range(max(2 * config.a_bank_words, 2 * config.b_bank_words) + 1))
        left = Signal(range(max(config.max_m, config.max_n, config.max_k if ws_a else 0) + 1))
        lanes = Mux(load_b, array.cols, array.rows)
        block_words = Mux(load_b, config.k_depth, config.a_block_words) if ws_a else config.k_depth
        # Kept beside the counters they describe, so that ``done`` and the counters' enables wait
        # on no comparator: the group's last word, ``kk == K - 1`` and ``left <= lanes``; and
        # K - 2 (one bit wider, so that K = 1 gives a value no ``kk`` equals), kept from setup.
        # Setup stores K there; the cycle after (``fresh``, when no word is taken yet) derives the
        # flags from it, so that no comparator on the command word reaches these registers.
        part_last = Signal()
        group_one = Signal()
        kk_last = Signal()
        k_is_one = Signal()
        k_before_last = Signal(len(kk) + 2)
        left_last = Signal()
        fresh = Signal()

        take = Signal()
        m.d.comb += [
            self.i_stream.ready.eq(~self.bank_busy & ~fresh),
            take.eq(self.i_stream.valid & self.i_stream.ready),
            self.done.eq(take & part_last & kk_last & left_last),
        ]

        # The write, a register after the word is taken: the address and the lanes' enables.
        for name, port, count, per_word, words_per_beat, width in groups:
            target = load_b if name == "b" else ~load_b
            word = Signal(config.word_width, name=f"{name}_word")
            m.d.sync += [port.addr.eq(block + kk), word.eq(self.i_stream.payload)]
            for lane in range(count):
                slot = lane % per_word
                m.d.comb += port.data[lane].eq(word[slot * width:(slot + 1) * width])
                m.d.sync += port.en[lane].eq(take & target & (part == lane // per_word))

        with m.If(take):
            with m.If(~part_last):
                m.d.sync += [part.eq(part + 1),
                             part_last.eq(part + 2 == Mux(load_b, config.b_words_per_beat,
                                                          config.a_words_per_beat))]
            with m.Else():
                m.d.sync += [part.eq(0), part_last.eq(group_one)]
                with m.If(~kk_last):
                    m.d.sync += [kk.eq(kk + 1), kk_last.eq(kk == k_before_last)]
                with m.Else():
                    m.d.sync += [kk.eq(0), kk_last.eq(k_is_one),
                                 block.eq(block + block_words),
                                 left.eq(left - lanes), left_last.eq(left <= 2 * lanes)]

        with m.If(fresh):
            m.d.sync += [
                fresh.eq(0),
                k_is_one.eq(k_before_last == 1),
                kk_last.eq(k_before_last == 1),
                k_before_last.eq(k_before_last - 2),
                left_last.eq(left <= lanes),
            ]
        with m.If(self.setup):
            per_beat_b, per_beat_a = config.b_words_per_beat, config.a_words_per_beat
            m.d.sync += [
                fresh.eq(1),
                load_b.eq(self.target_b),
                k_before_last.eq(Mux(self.target_b, self.k, self.m) if ws_a else self.k),
                part.eq(0),
                group_one.eq(Mux(self.target_b, per_beat_b == 1, per_beat_a == 1)),
                part_last.eq(Mux(self.target_b, per_beat_b == 1, per_beat_a == 1)),
                kk.eq(0),
                block.eq(Mux(self.target_b, Mux(self.bank, config.b_bank_words, 0),
                             Mux(self.bank, config.a_bank_words, 0))),
                left.eq(Mux(self.target_b, self.n, self.k if ws_a else self.m)),
            ]

        return m
