"""The output side of the GEMM engine: result rows from the result buffer, and status words."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring, stream
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .layouts import job_layout, result_beat_layout, result_read_signature, word_shape
from .tile_walk import tile_walk

__all__ = ["ResultDrain"]


class ResultDrain(wiring.Component):
    """Streams a job's M x N results a row a beat, tile by tile, while later tiles are computed.

    Order: tiles in row-major order (``ti`` outer, ``tj`` inner); in a tile its rows that lie
    inside M, each as one beat of the row's columns inside N (:func:`~.layouts.
    result_beat_layout`). A row is fetched from the result buffer as soon as the writer has
    written it, one row a cycle, so the drain keeps up with the array whenever a pass is at
    least ``rows`` beats long, and the drain of one tile overlaps the computation of the next.

    The drain has two sides with a two-entry queue of row requests between them. The *walk*
    runs ahead of the writer: it queues a request (columns, padding or not) for each
    row of the job's tiles in the order the writer writes them, and waits only on the queue's
    room, so that nothing from the consumer or the writer reaches the walk's counters. The
    *read* takes the queued requests one for each row written (the written rows are tokens),
    reads each row inside M (``buffer_latency`` registers) into the output and drops each
    padding row. The output is either a register that ``o_stream`` shows, whose stages move
    with the read's on every cycle it is free or taken (a stalled consumer stalls the read),
    or, where :attr:`~.config.EngineConfig.drain_queue_depth` asks for one, a queue that
    the read fills while it has room, so that ``o_stream.ready`` reaches nothing but the
    queue. Either way nothing is lost, and a consumer that takes every beat as it appears
    gets each on the same cycle.
    ``status_req`` puts one status word in the output register (beside the queue, where there
    is one), which the decoder only asks for when no result rows are owed, so the two never
    interleave.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    job : In(job_layout(config))
        The job whose results are sent (M and N are read on ``send``).
    start : In(1)
        A job begins (the writer's count of written rows starts over).
    send : In(1)
        Send the results of ``job``: with ``start`` when the job emits them, or alone when all
        its rows are written (READ).
    written : In(range(result_rows + 1))
        Rows of the job the writer has written.
    row_written : In(1)
        The writer writes a row on this cycle (``written`` counts it from the next).
    drain_read : In(ReadPort.Signature)
        Result buffer read port (``buffer_latency`` cycles from address to data, advancing on
        ``en``).
    status_req, status_word : In(1), In(word)
        Send this status word.
    o_stream : Out(stream.Signature(result_beat_layout(config)))
        Result rows and status words.
    out_busy : Out(1)
        Beats are owed: rows still to send or a status word not yet taken. With a queue it is
        a flip-flop.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "job":         In(job_layout(config)),
            "start":       In(1),
            "send":        In(1),
            "written":     In(range(config.result_rows + 1)),
            "row_written": In(1),
            "drain_read":  In(result_read_signature(config)),
            "status_req":  In(1),
            "status_word": In(word_shape(config)),
            "o_stream":    Out(stream.Signature(result_beat_layout(config))),
            "out_busy":    Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        rows, cols = config.array.rows, config.array.cols
        out = self.o_stream

        # The walk runs ahead of the rows: it queues a request for every row of the job's
        # tiles in the order the writer writes them (padding rows past M flagged, the last
        # tile's padding left out) while the queue has room, and waits on nothing else.
        walking = Signal()
        # The next row's place in its tile: ``row``; ``row == rows - 1`` (the tile's last row,
        # padding included); inside M; and the tile's last row inside M (``row == row_end``).
        row = Signal(range(rows))
        row_last = Signal()
        in_m = Signal()
        row_end = Signal(range(rows))
        real_last = Signal()

        # ``row_end`` and ``real_last`` for the first row of a tile that has
        # ``m_from - skipped`` rows of M from its block on; ``skipped`` is a constant, so no
        # subtractor sits in front of the comparisons.
        def first_row_of(m_from, skipped):
            left = m_from - skipped if skipped else m_from
            return [row_end.eq(Mux(m_from >= skipped + rows, rows - 1, left - 1)),
                    real_last.eq((rows == 1) | (m_from == skipped + 1)),
                    row.eq(0), row_last.eq(rows == 1), in_m.eq(1)]

        # ``queue`` (a row is queued on this cycle) is ``walking`` and room in the queue; it
        # is worked out on the cycle before (below), so that it is a flip-flop and the walk's
        # counters decide on flip-flops alone.
        queue = Signal()
        walk = tile_walk(m, config, self.job, restart=self.send, advance=queue & row_last)
        request = data.StructLayout({"count": out.payload.count.shape(), "padding": 1})
        m.submodules.requests = requests = SyncFIFO(width=request.size, depth=2)
        queued = data.View(request, requests.r_data)
        queuing = data.View(request, requests.w_data)
        m.d.comb += [
            requests.w_en.eq(queue),
            queuing.count.eq(Mux(walk.n_more, cols, walk.n_left)),
            queuing.padding.eq(~in_m),
        ]

        with m.If(queue):
            with m.If(row_last):
                with m.If(walk.down):
                    m.d.sync += first_row_of(walk.m_left, rows)
                with m.Else():
                    # The next row of tiles is the same one (N moves on): same M rows.
                    m.d.sync += [row.eq(0), row_last.eq(rows == 1), in_m.eq(1),
                                 real_last.eq(row_end == 0)]
            with m.Else():
                m.d.sync += [row.eq(row + 1), row_last.eq(row + 2 == rows),
                             real_last.eq(row + 1 == row_end)]
                with m.If(real_last):
                    m.d.sync += in_m.eq(0)
            with m.If(in_m & real_last & walk.last):
                m.d.sync += walking.eq(0)

        with m.If(self.send):
            m.d.sync += [*first_row_of(self.job.m, 0), walking.eq(1)]

        # The read takes the queued rows as the writer writes them: the rows written are
        # tokens, taken in order, one with each request; a row inside M is read into the
        # output, a padding row is dropped. ``tokens`` counts rows written and not yet taken;
        # ``has_token`` (``tokens != 0``) is kept in a flip-flop beside the count, so that
        # ``take`` waits on no comparator or adder. Without a queue, the read's stages and the
        # output register move together, whenever the output register is free or its beat is
        # taken.
        tokens = Signal(range(config.result_rows + 1))
        has_token = Signal()
        advance = Signal()
        take = Signal()
        latency = config.drain_read_stages
        valid = [Signal(name=f"read_valid_{stage}") for stage in range(latency)]
        count = [Signal.like(out.payload.count, name=f"read_count_{stage}")
                 for stage in range(latency)]
        depth = config.drain_queue_depth
        if depth:
            # The read runs free and takes a row while the queue has room for every row taken
            # and not yet gone, counted in flip-flops (``queue_used``).
            queue_used = Signal(range(depth + 1))
            m.d.comb += [
                advance.eq(1),
                take.eq(has_token & requests.r_rdy & (queue_used < depth)),
            ]
        else:
            m.d.comb += [
                advance.eq(~out.valid | out.ready),
                take.eq(advance & has_token & requests.r_rdy),
            ]
        # A row taken inside M is fetched into the output (a padding row is dropped).
        fetch = take & ~queued.padding
        # The rows are queued at addresses 0, 1, 2, ... from ``send``, so the row taken is
        # read at the count of rows taken: a flip-flop, not the queue's LUT RAM, drives the
        # address of every block of the result buffer, wherever the placer spreads them.
        read_addr = Signal(range(config.result_rows + 1))
        with m.If(self.send):
            m.d.sync += read_addr.eq(0)
        with m.Elif(take):
            m.d.sync += read_addr.eq(read_addr + 1)

        m.d.comb += [
            requests.r_en.eq(take),
            self.drain_read.addr.eq(read_addr),
            self.drain_read.en.eq(advance),
        ]
        if not depth:
            m.d.comb += self.out_busy.eq(walking | requests.r_rdy | Cat(*valid).any() | out.valid)
        # Assigning the (signed) accumulators to the wider words sign-extends them.
        with m.If(advance):
            m.d.sync += [valid[0].eq(fetch), count[0].eq(queued.count)]
            for stage in range(1, latency):
                m.d.sync += [valid[stage].eq(valid[stage - 1]), count[stage].eq(count[stage - 1])]
            if not depth:
                m.d.sync += [out.valid.eq(valid[-1]), out.payload.count.eq(count[-1])]
                for j in range(cols):
                    m.d.sync += out.payload.data[j].eq(self.drain_read.data[j])

        if depth:
            # Rows go through the queue; a status word, which comes only when no rows are
            # owed, waits in a register of its own beside it, so that neither the decoder's
            # request nor the consumer's ``ready`` reaches the queue's write side.
            # The queue is a ring of LUT RAM, not a FIFO: the read takes a row only while the
            # ring has room for it (``queue_used``), so a row is written as its data arrive,
            # without a check for room, and ``valid`` reaches the ring's write enables and
            # counters without a round trip through the ring's level. The ring is as wide as a
            # row and spreads over the die with it.
            row = Signal.like(out.payload)
            m.submodules.beats = beats = Memory(shape=len(row.as_value()), depth=depth, init=[])
            put_port = beats.write_port()
            head = beats.read_port(domain="comb")
            produce = Signal(range(depth))
            consume = Signal(range(depth))
            level = Signal(range(depth + 1))
            has_beat = Signal()
            put = valid[-1]
            got = Signal()
            status = Signal.like(out.payload)
            status_valid = Signal()
            m.d.comb += row.count.eq(count[-1])
            for j in range(cols):
                m.d.comb += row.data[j].eq(self.drain_read.data[j])
            m.d.comb += [
                put_port.addr.eq(produce),
                put_port.en.eq(put),
                put_port.data.eq(row),
                head.addr.eq(consume),
                got.eq(has_beat & out.ready & ~status_valid),
                out.valid.eq(has_beat | status_valid),
                out.payload.eq(Mux(status_valid, status, head.data)),
            ]
            has_beat_next = _nonempty_next(level, put, got)
            m.d.sync += [
                produce.eq(_next_slot(produce, put, depth)),
                consume.eq(_next_slot(consume, got, depth)),
                level.eq(level + put - got),
                has_beat.eq(has_beat_next),
                queue_used.eq(queue_used + fetch - got),
            ]
            with m.If(self.status_req):
                m.d.sync += [status_valid.eq(1), status.count.eq(1),
                             status.data[0].eq(self.status_word)]
            with m.Elif(out.ready):
                m.d.sync += status_valid.eq(0)

        # Next cycle's ``walking`` and queue level, from what the walk and the read do now.
        walking_next = self.send | (walking & ~(queue & in_m & real_last & walk.last))
        m.d.sync += queue.eq(walking_next & (requests.level + queue - take < requests.depth))
        if depth:
            # ``out_busy`` likewise, a register: the decoder that waits on it sits across the
            # die, by the operand buffers. Each part's next value is a few gates on flip-flops
            # and level compares with constants; no sum lies between the consumer's ``ready``
            # and this register.
            m.d.sync += self.out_busy.eq(
                walking_next
                | _nonempty_next(requests.level, queue, take)
                | fetch | Cat(*valid[:-1]).any()
                | has_beat_next
                | self.status_req | (status_valid & ~out.ready))

        # ``tokens`` grows with every row written (``row_written``) and shrinks with every row
        # taken; ``has_token`` follows without looking at the sum. The count one more and one
        # less are worked out from the flip-flops while ``take`` is decided, which then only
        # picks one (rather than driving a carry chain).
        grown = self.row_written
        fewer = Signal.like(tokens)
        more = Signal.like(tokens)
        m.d.comb += [fewer.eq(tokens - 1), more.eq(tokens + 1)]
        m.d.sync += tokens.eq(Mux(take, Mux(grown, tokens, fewer), Mux(grown, more, tokens)))
        with m.If(grown & ~take):
            m.d.sync += has_token.eq(1)
        with m.Elif(take & ~grown):
            m.d.sync += has_token.eq(tokens != 1)
        with m.If(self.send):
            # READ: every row of the job is written (a START that emits starts with none).
            m.d.sync += [tokens.eq(self.written), has_token.eq(self.written != 0)]
        with m.If(self.start):
            m.d.sync += [tokens.eq(0), has_token.eq(0)]

        if not depth:
            with m.If(self.status_req):
                m.d.sync += [out.valid.eq(1), out.payload.count.eq(1),
                             out.payload.data[0].eq(self.status_word)]

        return m


def _next_slot(index, step, depth):
    """``index`` moved on by ``step`` (0 or 1) around a ring of ``depth`` slots."""
    return Mux(step, Mux(index == depth - 1, 0, index + 1), index)


def _nonempty_next(level, put, got):
    """Whether a queue at ``level`` holds anything on the next cycle, as it puts and gets one
    (or not): compares of the level with constants rather than a sum."""
    return put | (level > 1) | ((level == 1) & ~got)
