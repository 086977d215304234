"""The output side of the GEMM engine: result rows from the result buffer, and status words."""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring, stream
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

    The fetched row passes the buffer's read (``buffer_latency`` registers) and the output
    register that ``o_stream`` shows; the three move together, on every cycle the output
    register is free or taken, so a stalled consumer stalls the read and nothing is lost.
    ``status_req`` puts one status word in the output register, which the decoder only asks for
    when no result rows are owed, so the two never interleave.

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
        Beats are owed: rows still to send or a status word not yet taken.
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

        # The next row to fetch: its address, the next tile's first address, its row in the
        # tile; ``fetching`` while rows are left. ``row_ready`` is ``addr < written``, kept in a
        # flip-flop, so that ``fetch`` waits on no comparator.
        addr = Signal(range(config.result_rows + 1))
        tile_next = Signal(range(config.result_rows + rows + 1))
        row = Signal(range(rows))
        fetching = Signal()
        row_ready = Signal()
        # The last row of the tile inside M, kept beside the walk's counters, and
        # ``row == row_end``, so that no comparator or subtractor sits behind ``fetch``.
        row_end = Signal(range(rows))
        tile_row_last = Signal()

        # ``row_end`` and ``tile_row_last`` for the first row of a tile that has
        # ``m_from - skipped`` rows of M from its block on; ``skipped`` is a constant, so no
        # subtractor sits in front of the comparisons.
        def first_row_of(m_from, skipped):
            left = m_from - skipped if skipped else m_from
            return [row_end.eq(Mux(m_from >= skipped + rows, rows - 1, left - 1)),
                    tile_row_last.eq((rows == 1) | (m_from == skipped + 1))]

        # The read's stages and the output register move together, whenever the output
        # register is free or its beat is taken.
        advance = Signal()
        fetch = Signal()
        walk = tile_walk(m, config, self.job, restart=self.send, advance=fetch & tile_row_last)
        latency = config.buffer_latency
        valid = [Signal(name=f"read_valid_{stage}") for stage in range(latency)]
        count = [Signal.like(out.payload.count, name=f"read_count_{stage}")
                 for stage in range(latency)]
        m.d.comb += [
            advance.eq(~out.valid | out.ready),
            fetch.eq(fetching & row_ready & advance),
            self.drain_read.addr.eq(addr),
            self.drain_read.en.eq(advance),
            self.out_busy.eq(fetching | Cat(*valid).any() | out.valid),
        ]
        with m.If(advance):
            m.d.sync += [valid[0].eq(fetch),
                         count[0].eq(Mux(walk.n_more, cols, walk.n_left))]
            for stage in range(1, latency):
                m.d.sync += [valid[stage].eq(valid[stage - 1]), count[stage].eq(count[stage - 1])]
            # Assigning the (signed) accumulators to the wider words sign-extends them.
            m.d.sync += [out.valid.eq(valid[-1]), out.payload.count.eq(count[-1])]
            for j in range(cols):
                m.d.sync += out.payload.data[j].eq(self.drain_read.data[j])

        with m.If(fetch):
            with m.If(tile_row_last):
                # Skip the tile's padding rows: the next row is the next tile's first.
                m.d.sync += [row.eq(0), tile_next.eq(tile_next + rows), addr.eq(tile_next),
                             tile_row_last.eq(row_end == 0)]
                with m.If(walk.down):
                    m.d.sync += first_row_of(walk.m_left, rows)
                with m.If(walk.last):
                    m.d.sync += fetching.eq(0)
            with m.Else():
                m.d.sync += [row.eq(row + 1), addr.eq(addr + 1),
                             tile_row_last.eq(row + 1 == row_end)]

        with m.If(self.send):
            m.d.sync += [
                addr.eq(0),
                tile_next.eq(rows),
                row.eq(0),
                *first_row_of(self.job.m, 0),
                fetching.eq(1),
            ]

        # ``row_ready`` is ``addr < written`` of the next cycle: ``written`` grows by
        # ``row_written`` and is cleared on ``start``; ``addr`` moves on ``fetch`` (which needs
        # ``addr < written``, so one step on is ready unless it reaches ``written``).
        written, grown = self.written, self.row_written
        m.d.sync += row_ready.eq(row_ready | (grown & (addr == written)))
        with m.If(fetch):
            with m.If(tile_row_last):
                m.d.sync += row_ready.eq((tile_next < written) | (grown & (tile_next == written)))
            with m.Else():
                m.d.sync += row_ready.eq(grown | (addr + 1 != written))
        with m.If(self.send):
            m.d.sync += row_ready.eq((written != 0) | grown)
        with m.If(self.start):
            m.d.sync += row_ready.eq(0)

        with m.If(self.status_req):
            m.d.sync += [out.valid.eq(1), out.payload.count.eq(1),
                         out.payload.data[0].eq(self.status_word)]

        return m
