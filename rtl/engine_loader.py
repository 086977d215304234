"""The operand loader of the GEMM engine: data words of a LOAD into the operand buffers."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .engine_layouts import a_write_signature, b_write_signature, word_shape

__all__ = ["OperandLoader"]


class OperandLoader(wiring.Component):
    """Unpacks a LOAD's data words and writes each operand into its lane of the buffer.

    A word carries ``a_per_word`` (``b_per_word``) operands, low first; they are written one a
    cycle, and the next word is taken on the cycle the last operand of the current one is
    written, so a steady stream loads one operand every cycle. Operands after the last one of
    the matrix (the padding of the last word) are dropped.

    Where an operand goes: A is row-major M x K, and row ``r`` of a bank is lane ``r % rows``
    of the ``K`` words from ``(r // rows) * k_depth``; B is row-major K x N, and column ``c``
    is lane ``c % cols`` of the words from ``(c // cols) * k_depth``. So the feeder reads
    one beat with one read of each memory.

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
        The feeder reads this bank: hold the first word until it is done.
    a_write, b_write : In(WritePort.Signature)
        Operand memory write ports.
    done : Out(1)
        The last operand is written on this cycle.
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
        a_width, b_width = array.a_width, array.b_width

        load_b = Signal()
        bank = Signal()
        kk = Signal(range(config.max_k + 1))
        # Kept from setup: K = 1, and K - 2, one bit wider so that K = 1 gives a value no ``kk``
        # equals (``kk + 1 == K - 1`` without an adder or subtractor in front of the comparator).
        # Setup stores K there; the cycle after (``fresh``, before any operand word can be
        # written) derives both, so no comparator on the command word reaches these registers.
        k_is_one = Signal()
        k_before_last = Signal(len(kk) + 1)
        fresh = Signal()
        n = Signal.like(self.n)
        shreg = Signal(config.word_width)
        count = Signal(range(max(config.a_per_word, config.b_per_word) + 1))
        lane = Signal(range(max(array.rows, array.cols) + 1))
        block = Signal(range(max(2 * config.a_bank_words, 2 * config.b_bank_words) + 1))
        # Rows of A (columns of the current row of B) still to load.
        left = Signal(range(max(config.max_m, config.max_n) + 1))
        b_bank_base = Mux(bank, config.b_bank_words, 0)

        # ``kk == K - 1`` and ``left == 1``, kept as flip-flops next to the counters they
        # describe: ``final`` then reaches ``ready`` (and the command path before it) through
        # one gate instead of two comparators.
        kk_at_last = Signal()
        left_at_one = Signal()
        # ``count == 0`` and ``count == 1`` likewise, for ``ready``.
        count_zero = Signal(init=1)
        count_one = Signal()
        no_count = [count.eq(0), count_zero.eq(1), count_one.eq(0)]
        writing = Signal()
        final = Signal()
        m.d.comb += [
            writing.eq(~count_zero),
            final.eq(kk_at_last & left_at_one),
            self.done.eq(writing & final),
            # The first word waits for the bank (the other bank is free: double buffering).
            self.i_stream.ready.eq((count_zero & ~self.bank_busy) | (count_one & ~final)),
            self.a_write.addr.eq(block + kk),
            self.b_write.addr.eq(block + kk),
        ]
        # Every lane gets the operand; the lane enable picks the one it goes to.
        for i in range(array.rows):
            m.d.comb += [
                self.a_write.data[i].eq(shreg[:a_width]),
                self.a_write.en[i].eq(writing & ~load_b & (lane == i)),
            ]
        for j in range(array.cols):
            m.d.comb += [
                self.b_write.data[j].eq(shreg[:b_width]),
                self.b_write.en[j].eq(writing & load_b & (lane == j)),
            ]

        with m.If(writing):
            m.d.sync += [
                count.eq(count - 1),
                count_zero.eq(count == 1),
                count_one.eq(count == 2),
                shreg.eq(Mux(load_b, shreg >> b_width, shreg >> a_width)),
            ]
            with m.If(~load_b):
                # Row-major A: the K operands of a row go to K words of its lane.
                with m.If(kk_at_last):
                    m.d.sync += [kk.eq(0), kk_at_last.eq(k_is_one),
                                 left.eq(left - 1), left_at_one.eq(left == 2)]
                    with m.If(lane == array.rows - 1):
                        m.d.sync += [lane.eq(0), block.eq(block + config.k_depth)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
                with m.Else():
                    m.d.sync += [kk.eq(kk + 1), kk_at_last.eq(kk == k_before_last)]
            with m.Else():
                # Row-major B: a row of N operands goes across lanes and blocks.
                with m.If(left_at_one):
                    m.d.sync += [left.eq(n), left_at_one.eq(n == 1), lane.eq(0),
                                 block.eq(b_bank_base), kk.eq(kk + 1),
                                 kk_at_last.eq(kk == k_before_last)]
                with m.Else():
                    m.d.sync += [left.eq(left - 1), left_at_one.eq(left == 2)]
                    with m.If(lane == array.cols - 1):
                        m.d.sync += [lane.eq(0), block.eq(block + config.k_depth)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
            with m.If(final):
                m.d.sync += no_count
        with m.If(self.i_stream.valid & self.i_stream.ready):
            m.d.sync += [
                shreg.eq(self.i_stream.payload),
                count.eq(Mux(load_b, config.b_per_word, config.a_per_word)),
                count_zero.eq(0),
                count_one.eq(Mux(load_b, config.b_per_word == 1, config.a_per_word == 1)),
            ]

        with m.If(fresh):
            m.d.sync += [
                fresh.eq(0),
                k_is_one.eq(k_before_last == 1),
                kk_at_last.eq(k_before_last == 1),
                k_before_last.eq(k_before_last - 2),
                left_at_one.eq(left == 1),
            ]
        with m.If(self.setup):
            m.d.sync += [
                fresh.eq(1),
                load_b.eq(self.target_b),
                bank.eq(self.bank),
                k_before_last.eq(self.k),
                n.eq(self.n),
                *no_count,
                kk.eq(0),
                lane.eq(0),
                block.eq(Mux(self.target_b, Mux(self.bank, config.b_bank_words, 0),
                             Mux(self.bank, config.a_bank_words, 0))),
                left.eq(Mux(self.target_b, self.n, self.m)),
            ]

        return m

