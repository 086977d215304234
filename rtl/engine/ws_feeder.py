"""The feeder of a weight-stationary GEMM engine: weight tiles, rows of A and their partial sums."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..array import delay_line
from .lane_addresses import drive_lane_addresses, lane_address_members
from .layouts import a_read_signature, b_read_signature, job_layout, result_read_signature
from ..shapes import ws_operand_layout

__all__ = ["WSTileFeeder"]


class WSTileFeeder(wiring.Component):
    """Feeds a weight-stationary array: for each N tile, for each K tile, the weight tile, then
    the job's M rows of A with the partial sums each row starts from.

    **Order and addresses.** Pass ``(nt, kt)`` (``nt`` outer) holds ``B[kt*R .. kt*R + R-1,
    nt*C .. nt*C + C-1]``: its weight rows are words ``nt * k_depth + k`` of the B bank (the
    same B layout as the output-stationary engine's), shifted in bottom row first, and rows
    past K as zeros (whatever the buffer holds there), so that the padding lanes of A meet zero
    weights. Its rows are words ``kt * max_m + m`` of the A bank (A held K-block-major, see
    :class:`~.loader.OperandLoader`). Row ``m`` of N tile ``nt`` lives at result-buffer row
    ``(m // R * tiles_n + nt) * R + m % R``: where the output-stationary engine keeps row ``m %
    R`` of tile ``(m // R, nt)``, so that the drain, READ and accumulating jobs find results
    where they find an output-stationary engine's. A row beat carries that row's partial sums:
    zero for ``kt = 0`` unless the job accumulates, the previous K tile's row otherwise. The
    psum read and the A and B reads are issued for the same beat and arrive together.

    **Timing.** The first tile's ``R`` weight rows take a beat each (issued from the cycle after
    ``start``); the first pass's first row follows, and each pass's first row
    ``config.pass_spacing(M)`` cycles after the previous one's. Pass ``p``'s rows take the cycles
    from its first on; the next tile's weight rows ride on the beats from
    ``weight_load_delay`` cycles after the first row on (beats of their own past the rows), so
    the array takes every beat on the cycle it is offered. Beats reach ``o_stream``
    ``buffer_latency + read_address_stages`` cycles after their reads are issued.

    Parameters
    ----------
    config : EngineConfig
        A weight-stationary engine.

    Members
    -------
    job : In(job_layout(config))
        The job; read on ``start`` and while it runs.
    start : In(1)
        Begin the job.
    a_read, b_read : In(ReadPort.Signature)
        Operand memory read ports.
    psum_read : In(ReadPort.Signature)
        Result buffer read port for the partial sums.
    o_stream : Out(stream.Signature(ws_operand_layout))
        Beats for a :class:`~systolic.rtl.ws_array.WSSystolicArray`.
    row_addr : Out(range(result_rows))
        The result-buffer row of the row beat on ``o_stream`` (where its sums go).
    a_lane_addr, b_lane_addr : Out(ArrayLayout(addr, lanes))
        Only with distributed buffers, as :class:`~.feeder.TileFeeder`'s.
    busy : Out(1)
        Beats of the job are still to be accepted by the array (its bank is in use).
    """

    def __init__(self, config):
        self._config = config
        members = {
            "job":       In(job_layout(config)),
            "start":     In(1),
            "a_read":    In(a_read_signature(config)),
            "b_read":    In(b_read_signature(config)),
            "psum_read": In(result_read_signature(config)),
            "o_stream":  Out(stream.Signature(ws_operand_layout(config.array))),
            "row_addr":  Out(range(config.result_rows)),
            "busy":      Out(1),
            **lane_address_members(config),
        }
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config = self._config
        array = config.array
        rows, cols = array.rows, array.cols
        job = self.job
        load_delay = array.weight_load_delay
        fixed_spacing = config.pass_spacing(0)

        issuing = Signal()
        prologue = Signal()           # the first tile's weight rows, before any pass
        t = Signal(range(max(config.max_m, fixed_spacing) + 1))
        t_end = Signal.like(t)        # the pass spacing less one, kept from start
        a_bank_base = Mux(job.bank, config.a_bank_words, 0)
        b_bank_base = Mux(job.bank, config.b_bank_words, 0)

        # The pass in hand: its K tile's first row of K and A block, its N tile's first column.
        k0 = Signal(range(config.max_k + rows + 1))
        n0 = Signal(range(config.max_n + cols + 1))
        a_base = Signal(range(2 * config.a_bank_words + 1))
        a_addr = Signal.like(a_base)
        # Result rows: ``c_base`` is the pass's N tile's row of the first block of M;
        # ``c_addr`` the next row's; ``c_in_block`` its place in its block of R rows; a block
        # of M takes ``tiles_n * R`` rows, so the next block's row 0 is ``c_jump`` past row R-1.
        c_base = Signal(range(config.result_rows + rows + 1))
        c_addr = Signal.like(c_base)
        c_in_block = Signal(range(rows))
        c_jump = Signal(range(config.result_rows + 2))
        tiles_n = (job.n + cols - 1) >> ceil_log2(cols) if cols & (cols - 1) == 0 \
            else (job.n + cols - 1) // cols
        last_kt = Signal()
        last_nt = Signal()
        m.d.comb += [last_kt.eq(k0 + rows >= job.k), last_nt.eq(n0 + cols >= job.n)]

        # The tile whose weights shift in next: its first row of K and B block; ``w_k`` is the
        # row of K of the next weight beat (bottom row first) and ``w_left`` the beats left.
        load_k0 = Signal.like(k0)
        load_base = Signal(range(2 * config.b_bank_words + 1))
        w_k = Signal(range(config.max_k + rows + 1))
        load_last_kt = Signal()
        m.d.comb += load_last_kt.eq(load_k0 + rows >= job.k)

        row_beat = Signal()
        load_beat = Signal()
        more_passes = Signal()
        m.d.comb += [
            more_passes.eq(~(last_kt & last_nt)),
            row_beat.eq(issuing & ~prologue & (t < job.m)),
            load_beat.eq(issuing & (prologue | (more_passes & (t >= load_delay)
                                                & (t < load_delay + rows)))),
        ]
        first = Signal()
        last = Signal()
        m.d.comb += [first.eq(row_beat & (t == 0)), last.eq(row_beat & (t + 1 == job.m))]
        zero_psum = Signal()
        m.d.comb += zero_psum.eq((k0 == 0) & ~job.accumulate)
        weight_real = Signal()
        m.d.comb += weight_real.eq(w_k < job.k)

        m.d.comb += [
            self.a_read.addr.eq(a_addr), self.a_read.en.eq(1),
            self.b_read.addr.eq(load_base + w_k), self.b_read.en.eq(1),
        ]

        # Weight beats: the bottom row of the tile first; after the tile's last row, on to the
        # next tile (next K tile of the N tile, else the next N tile's first).
        with m.If(load_beat):
            with m.If(w_k == load_k0):
                with m.If(load_last_kt):
                    m.d.sync += [load_k0.eq(0), load_base.eq(load_base + config.k_depth),
                                 w_k.eq(rows - 1)]
                with m.Else():
                    m.d.sync += [load_k0.eq(load_k0 + rows), w_k.eq(load_k0 + 2 * rows - 1)]
            with m.Else():
                m.d.sync += w_k.eq(w_k - 1)

        # Row beats: A rows in order; the result rows block by block.
        with m.If(row_beat):
            m.d.sync += a_addr.eq(a_addr + 1)
            with m.If(c_in_block == rows - 1):
                m.d.sync += [c_in_block.eq(0), c_addr.eq(c_addr + c_jump)]
            with m.Else():
                m.d.sync += [c_in_block.eq(c_in_block + 1), c_addr.eq(c_addr + 1)]

        # The walk over the passes: prologue, then each pass's spacing; the job ends with its
        # last pass's last row.
        with m.If(issuing & prologue):
            with m.If(w_k == 0):
                m.d.sync += [prologue.eq(0), t.eq(0)]
        with m.Elif(issuing):
            m.d.sync += t.eq(t + 1)
            with m.If(last & ~more_passes):
                m.d.sync += issuing.eq(0)
            with m.If(t == t_end):
                m.d.sync += [t.eq(0), c_in_block.eq(0)]
                with m.If(last_kt):
                    m.d.sync += [k0.eq(0), n0.eq(n0 + cols), a_base.eq(a_bank_base),
                                 a_addr.eq(a_bank_base), c_base.eq(c_base + rows),
                                 c_addr.eq(c_base + rows)]
                with m.Else():
                    m.d.sync += [k0.eq(k0 + rows), a_base.eq(a_base + config.a_block_words),
                                 a_addr.eq(a_base + config.a_block_words), c_addr.eq(c_base)]

        with m.If(self.start):
            m.d.sync += [
                issuing.eq(1), prologue.eq(1), t.eq(0),
                t_end.eq(Mux(job.m > fixed_spacing, job.m, fixed_spacing) - 1),
                k0.eq(0), n0.eq(0), a_base.eq(a_bank_base), a_addr.eq(a_bank_base),
                c_base.eq(0), c_addr.eq(0), c_in_block.eq(0),
                c_jump.eq(tiles_n * rows - rows + 1),
                load_k0.eq(0), load_base.eq(b_bank_base), w_k.eq(rows - 1),
            ]

        # The reads' data arrive ``read_address_stages + buffer_latency`` cycles after the
        # issue; the beat's flags, and the row's result address, wait as long. The partial sums
        # are read at the address as delayed by the lane copies, so they arrive with A.
        stages = config.read_address_stages + config.buffer_latency
        flags = Cat(row_beat, load_beat, first, last, zero_psum, weight_real)
        flags_d = delay_line(m, platform, flags, stages, "beat_flags")
        row_d, load_d, first_d, last_d, zero_d, real_d = (flags_d[i] for i in range(6))
        psum_addr = delay_line(m, platform, c_addr, config.read_address_stages, "psum_addr")
        m.d.comb += [self.psum_read.addr.eq(psum_addr), self.psum_read.en.eq(1)]
        m.d.comb += self.row_addr.eq(delay_line(m, platform, c_addr, stages, "row_addr"))
        beat = self.o_stream.payload
        m.d.comb += [
            self.o_stream.valid.eq(row_d | load_d),
            beat.row.eq(row_d), beat.load.eq(load_d), beat.first.eq(first_d),
            beat.last.eq(last_d),
            beat.a.eq(self.a_read.data),
            beat.w.eq(Mux(real_d, self.b_read.data, 0)),
            beat.psum.eq(Mux(zero_d, 0, self.psum_read.data)),
        ]
        in_flight = Cat(delay_line(m, platform, row_beat | load_beat, n, f"in_flight_{n}")
                        for n in range(1, stages))
        m.d.sync += self.busy.eq(self.start | issuing | in_flight.any())

        b_addr = Signal.like(self.b_read.addr)
        m.d.comb += b_addr.eq(load_base + w_k)
        drive_lane_addresses(m, platform, self, {"a": a_addr, "b": b_addr})
        return m
