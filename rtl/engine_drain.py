"""The output side of the GEMM engine: result words from the result buffer, and status words."""

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import In, Out

from .engine_layouts import job_layout, result_read_signature, word_shape
from .tile_walk import tile_walk

__all__ = ["GROUP", "ResultDrain"]

#: Columns in a group of the drain's column select (its first stage picks within groups); a
#: power of two, so that a column's low bits are its place in its group.
GROUP = 4


class ResultDrain(wiring.Component):
    """Streams a job's M x N results as words, tile by tile, while later tiles are computed.

    Order: tiles in row-major order (``ti`` outer, ``tj`` inner); in a tile its rows that lie
    inside M, each row's columns that lie inside N. A row is read from the result buffer as
    soon as the writer has written it and the previous row's last element is moving on, so a
    row is sent every ``n_cols`` cycles with no gap and the drain of one tile overlaps the
    computation of the next. The read register of the buffer port holds the row; its elements
    move one a cycle through two stages to the output register that ``o_stream`` shows: the
    first keeps the element's candidates, one from each group of :data:`GROUP` columns, and
    the second picks among them. A wide row's column select is then two short paths that end
    at flip-flops, rather than one that runs into whatever takes the words.

    A word is the element sign-extended (zero-extended if unsigned) to the word width.
    ``status_req`` puts one status word in the output register, which the decoder only asks
    for when no result words are owed, so the two never interleave.

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
        Result buffer read port.
    status_req, status_word : In(1), In(word)
        Send this status word.
    o_stream : Out(stream.Signature(word))
        Result and status words.
    out_busy : Out(1)
        Words are owed: results still to send or a status word not yet taken.
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
            "o_stream":    Out(stream.Signature(word_shape(config))),
            "out_busy":    Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        rows, cols = config.array.rows, config.array.cols
        out = self.o_stream

        active = Signal()
        # The row in the read register: it holds a row; the column that moves on next; the
        # column before its last (what ``at_last_col`` becomes after the last column does not
        # matter: the row has moved on, and a fetch sets it again).
        have = Signal()
        col = Signal(range(cols))
        before_last_col = Signal(range(cols))
        # "The column moving on is the row's last" and ``addr < written``, kept in flip-flops:
        # ``fetch`` (whose enable reaches the whole read register) then waits on no comparator.
        at_last_col = Signal()
        row_ready = Signal()
        # The next row to read: its address, the next tile's first address, its row in the
        # tile; ``fetching`` while rows are left to read (``active`` lasts until the last one
        # has moved on).
        addr = Signal(range(config.result_rows + 1))
        tile_next = Signal(range(config.result_rows + rows + 1))
        row = Signal(range(rows))
        fetching = Signal()
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

        # The first stage of the column select: the moving element's candidates, one from each
        # group of columns (the element's column in its group picks them), and its group.
        row_data = self.drain_read.data
        groups = -(-cols // GROUP)
        in_group, of_group = col[:GROUP.bit_length() - 1], col[GROUP.bit_length() - 1:]
        candidates = Signal(ArrayLayout(row_data.shape().elem_shape, groups))
        group = Signal(range(groups))
        picked = Signal()
        # The output register: a result or status word not yet taken. Assigning the (signed)
        # element to the wider word sign-extends it.
        word = Signal(word_shape(config))
        word_valid = Signal()

        pick = Signal()
        move = Signal()
        row_moved = Signal()
        fetch = Signal()
        walk = tile_walk(m, config, self.job, restart=self.send, advance=fetch & tile_row_last)
        m.d.comb += [
            out.valid.eq(word_valid),
            out.payload.eq(word),
            move.eq(picked & (~word_valid | out.ready)),
            pick.eq(have & (~picked | move)),
            row_moved.eq(pick & at_last_col),
            fetch.eq(fetching & (~have | row_moved) & row_ready),
            self.drain_read.addr.eq(addr),
            self.drain_read.en.eq(fetch),
            self.out_busy.eq(active | picked | word_valid),
        ]

        with m.If(out.ready):
            m.d.sync += word_valid.eq(0)
        with m.If(move):
            m.d.sync += [word.eq(candidates[group]), word_valid.eq(1), picked.eq(0)]
        with m.If(pick):
            m.d.sync += [picked.eq(1), group.eq(of_group),
                         col.eq(col + 1), at_last_col.eq(col == before_last_col)]
            for g in range(groups):
                members = [row_data[c] for c in range(g * GROUP, min(cols, (g + 1) * GROUP))]
                m.d.sync += candidates[g].eq(Array(members)[in_group])
        with m.If(row_moved):
            m.d.sync += have.eq(0)
            with m.If(~fetching):
                m.d.sync += active.eq(0)
        with m.If(fetch):
            m.d.sync += [
                have.eq(1),
                col.eq(0),
                before_last_col.eq(Mux(walk.n_more, cols - 2, walk.n_left - 2)),
                at_last_col.eq((cols == 1) | (walk.n_left == 1)),
            ]
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
                active.eq(1),
                have.eq(0),
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
            m.d.sync += [word.eq(self.status_word), word_valid.eq(1)]

        return m
