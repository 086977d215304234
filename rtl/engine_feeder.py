"""The tile walker of the GEMM engine: streams operand beats from the buffers into the array."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .engine_layouts import a_read_signature, b_read_signature, job_layout
from .shapes import operand_layout

__all__ = ["TileFeeder"]


class TileFeeder(wiring.Component):
    """Feeds the array one pass per R x C output tile, tiles in row-major order.

    Pass ``(ti, tj)`` reads word ``ti * k_depth + k`` of the A bank and ``tj * k_depth + k`` of
    the B bank for ``k = 0 .. K-1``: the buffers hold each block of A rows (B columns) as K
    consecutive beats, so a beat is one read of each memory and no reordering is needed.
    The memory read register is the pipeline stage in front of the array; when the array holds
    a beat (a short pass's last beat waits for the pass spacing) the read port is disabled so
    it keeps the beat, and the next pass follows the held beat without a gap.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    job : In(job_layout(config))
        The job; read on ``start``.
    start : In(1)
        Begin the job.
    a_read, b_read : In(ReadPort.Signature)
        Operand memory read ports.
    o_stream : Out(stream.Signature(operand_layout))
        Beats for the array.
    busy : Out(1)
        Beats of the job are still to be accepted by the array (its bank is in use).
    pass_done : Out(1)
        The array accepted the last beat of a pass.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "job":       In(job_layout(config)),
            "start":     In(1),
            "a_read":    In(a_read_signature(config)),
            "b_read":    In(b_read_signature(config)),
            "o_stream":  Out(stream.Signature(operand_layout(config.array))),
            "busy":      Out(1),
            "pass_done": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        rows, cols = config.array.rows, config.array.cols
        job = self.job
        beat = self.o_stream

        issuing = Signal()
        k = Signal(range(config.max_k + 1))
        a_base = Signal(range(2 * config.a_bank_words))
        b_base = Signal(range(2 * config.b_bank_words))
        # Rows of A (columns of B) from the current block on.
        m_left = Signal(range(config.max_m + 1))
        n_left = Signal(range(config.max_n + 1))
        last = Signal()
        b_bank_base = Mux(job.bank, config.b_bank_words, 0)
        # a_base + k and b_base + k, kept in registers: the read addresses come straight from
        # flip-flops (distributed RAM reads within the cycle, so an adder there adds to it).
        a_addr = Signal.like(a_base)
        b_addr = Signal.like(b_base)

        advance = Signal()
        m.d.comb += [
            advance.eq(~beat.valid | beat.ready),
            self.a_read.addr.eq(a_addr),
            self.b_read.addr.eq(b_addr),
            self.a_read.en.eq(advance),
            self.b_read.en.eq(advance),
            beat.payload.a.eq(self.a_read.data),
            beat.payload.b.eq(self.b_read.data),
            beat.payload.last.eq(last),
            self.busy.eq(issuing | beat.valid),
            self.pass_done.eq(beat.valid & beat.ready & last),
        ]

        with m.If(advance):
            m.d.sync += [
                beat.valid.eq(issuing),
                last.eq(k == job.k - 1),
            ]
            with m.If(issuing):
                with m.If(k == job.k - 1):
                    m.d.sync += [k.eq(0), a_addr.eq(a_base)]
                    with m.If(n_left > cols):
                        m.d.sync += [n_left.eq(n_left - cols), b_base.eq(b_base + config.k_depth),
                                     b_addr.eq(b_base + config.k_depth)]
                    with m.Else():
                        m.d.sync += [n_left.eq(job.n), b_base.eq(b_bank_base),
                                     b_addr.eq(b_bank_base)]
                        with m.If(m_left > rows):
                            m.d.sync += [m_left.eq(m_left - rows),
                                         a_base.eq(a_base + config.k_depth),
                                         a_addr.eq(a_base + config.k_depth)]
                        with m.Else():
                            m.d.sync += issuing.eq(0)
                with m.Else():
                    m.d.sync += [k.eq(k + 1), a_addr.eq(a_addr + 1), b_addr.eq(b_addr + 1)]

        with m.If(self.start):
            m.d.sync += [
                issuing.eq(1),
                k.eq(0),
                a_base.eq(Mux(job.bank, config.a_bank_words, 0)),
                a_addr.eq(Mux(job.bank, config.a_bank_words, 0)),
                b_base.eq(b_bank_base),
                b_addr.eq(b_bank_base),
                m_left.eq(job.m),
                n_left.eq(job.n),
            ]

        return m
