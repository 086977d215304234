"""The tile walker of the GEMM engine: streams operand beats from the buffers into the array."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from ..array import pass_spacing
from .lane_addresses import drive_lane_addresses, lane_address_members
from .layouts import a_read_signature, b_read_signature, job_layout
from .tile_walk import tile_walk
from ..shapes import operand_layout

__all__ = ["TileFeeder"]


class TileFeeder(wiring.Component):
    """Feeds the array one pass per R x C output tile, tiles in row-major order.

    Pass ``(ti, tj)`` reads word ``ti * k_depth + k`` of the A bank and ``tj * k_depth + k`` of
    the B bank for ``k = 0 .. K-1``: the buffers hold each block of A rows (B columns) as K
    consecutive beats, so a beat is one read of each memory and no reordering is needed.
    The memory read register is the pipeline stage in front of the array. The feeder keeps
    the array's pass spacing itself: it issues a pass's last beat no sooner than
    ``min_pass_spacing`` cycles after the previous pass's last beat (a bubble a cycle until
    then), so the array takes every beat it is offered, on the cycles it would have taken
    them, and nothing here waits on ``o_stream.ready``: the addresses, which reach memories
    all over a big die, are computed from flip-flops alone.

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
        Beats for the array (a :class:`~systolic.rtl.array.SystolicArray` of ``config.array``, whose
        ``ready`` the spacing above keeps high whenever a beat is offered).
    a_lane_addr, b_lane_addr : Out(ArrayLayout(addr, lanes))
        Only with distributed buffers (``config.buffer_ram``), which the engine then builds
        one memory a lane: copies of the read addresses, one register each per lane, so that
        no address net spreads over a whole buffer (``a_read.addr`` and ``b_read.addr`` are
        the same addresses, for one-memory buffers).
    busy : Out(1)
        Beats of the job are still to be accepted by the array (its bank is in use).
    pass_done : Out(1)
        The array accepted the last beat of a pass.
    pass_issue : Out(1)
        The first beat of a pass is issued (read from the buffers) on this cycle; the array
        takes it ``buffer_latency + read_address_stages`` cycles later.
    """

    def __init__(self, config):
        self._config = config
        members = {
            "job":       In(job_layout(config)),
            "start":     In(1),
            "a_read":    In(a_read_signature(config)),
            "b_read":    In(b_read_signature(config)),
            "o_stream":  Out(stream.Signature(operand_layout(config.array))),
            "busy":      Out(1),
            "pass_done": Out(1),
            "pass_issue": Out(1),
            **lane_address_members(config),
        }
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config = self._config
        job = self.job
        beat = self.o_stream

        issuing = Signal()
        k = Signal(range(config.max_k + 1))
        a_base = Signal(range(2 * config.a_bank_words))
        b_base = Signal(range(2 * config.b_bank_words))
        last = Signal()
        # K - 2 (one bit wider, so that K = 1 gives a value no ``k`` equals), kept from start,
        # and ``k == K - 1`` kept next to the counter, so that no comparator sits in front of
        # the addresses. (``job`` stays as it is until the feeder is done: the decoder launches
        # no job while it is busy.)
        k_before_last = Signal(len(k) + 1)
        k_at_last = Signal()
        # ``k == 0``, kept beside the counter likewise.
        k_first = Signal()
        b_bank_base = Mux(job.bank, config.b_bank_words, 0)
        a_bank_base = Mux(job.bank, config.a_bank_words, 0)
        # a_base + k and b_base + k, kept in registers: the read addresses come straight from
        # flip-flops (distributed RAM reads within the cycle, so an adder there adds to it).
        a_addr = Signal.like(a_base)
        b_addr = Signal.like(b_base)

        # Issue a beat: the addresses step, and the read register gets the beat. The array's
        # pass spacing is counted from the issue of each last beat (the array counts from its
        # acceptance, a fixed number of cycles later for every beat alike).
        step = Signal()
        spaced = pass_spacing(m, config.array, step & k_at_last)
        # Rows of A (columns of B) from the current block on. The walk moves on a cycle after
        # a pass's last beat, from a flip-flop: its counters, which sit wherever the placer puts
        # them, then wait on no logic of the feeder's. The next pass's end, which reads the walk,
        # is at least ``min_pass_spacing`` cycles later (a 1 x 1 array's passes may be a cycle
        # apart: its walk moves at once).
        advance = Signal()
        if config.array.min_pass_spacing >= 2:
            m.d.sync += advance.eq(step & k_at_last)
        else:
            m.d.comb += advance.eq(step & k_at_last)
        walk = tile_walk(m, config, job, restart=self.start, advance=advance)
        m.d.comb += [
            step.eq(issuing & (~k_at_last | spaced)),
            self.a_read.addr.eq(a_addr),
            self.b_read.addr.eq(b_addr),
            self.a_read.en.eq(1),
            self.b_read.en.eq(1),
            beat.payload.a.eq(self.a_read.data),
            beat.payload.b.eq(self.b_read.data),
            beat.payload.last.eq(last),
            self.pass_done.eq(beat.valid & last),
            self.pass_issue.eq(step & k_first),
        ]
        # The beat leaves the read port ``buffer_latency`` cycles after its address (a cycle
        # more with lane copies of the addresses): the last of those cycles is ``o_stream``'s.
        issued, issued_last = step, k_at_last
        in_flight = []
        for stage in range(config.read_address_stages + config.buffer_latency - 1):
            issued_d = Signal(name=f"issued_{stage}")
            issued_last_d = Signal(name=f"issued_last_{stage}")
            m.d.sync += [issued_d.eq(issued), issued_last_d.eq(issued_last)]
            issued, issued_last = issued_d, issued_last_d
            in_flight.append(issued)
        m.d.sync += [beat.valid.eq(issued), last.eq(issued_last)]
        # ``busy`` is ``issuing`` or a beat in a stage or on the output, kept in a flip-flop
        # (loads wait on it): the next cycle has a beat in flight exactly if a stage holds one
        # now or one is issued now (``step`` implies ``issuing``), or a job starts.
        m.d.sync += self.busy.eq(self.start | issuing | Cat(*in_flight).any())

        with m.If(step):
            m.d.sync += k_first.eq(k_at_last)
        with m.If(self.start):
            m.d.sync += k_first.eq(1)
        with m.If(step):
            with m.If(k_at_last):
                m.d.sync += [k.eq(0), k_at_last.eq(job.k == 1)]
                with m.If(walk.n_more):
                    m.d.sync += b_base.eq(b_base + config.k_depth)
                with m.Else():
                    m.d.sync += b_base.eq(b_bank_base)
                with m.If(walk.down):
                    m.d.sync += a_base.eq(a_base + config.k_depth)
                with m.If(walk.last):
                    m.d.sync += issuing.eq(0)
            with m.Else():
                m.d.sync += [k.eq(k + 1), k_at_last.eq(k == k_before_last)]

        with m.If(self.start):
            m.d.sync += [
                issuing.eq(1),
                k.eq(0),
                k_before_last.eq(job.k - 2),
                k_at_last.eq(job.k == 1),
                a_base.eq(a_bank_base),
                b_base.eq(b_bank_base),
            ]

        # The addresses step with the beats: to the bank's first block on start, to the next
        # word within a pass, and at a pass's end back to its A block's first word (to the next
        # A block once the B blocks are done) and on to the next B block (back to the first).
        a_pass_end = Mux(walk.down, a_base + config.k_depth, a_base)
        b_pass_end = Mux(walk.n_more, b_base + config.k_depth, b_bank_base)
        for target, first, pass_end in ((a_addr, a_bank_base, a_pass_end),
                                        (b_addr, b_bank_base, b_pass_end)):
            m.d.sync += target.eq(Mux(self.start, first,
                                      Mux(step, Mux(k_at_last, pass_end, target + 1), target)))
        drive_lane_addresses(m, platform, self, {"a": a_addr, "b": b_addr})

        return m
