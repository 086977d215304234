"""The walk over a job's output tiles that the feeder and the drain both make."""

from dataclasses import dataclass

from amaranth.hdl import Signal, Value

__all__ = ["TileWalk", "tile_walk"]


@dataclass(frozen=True)
class TileWalk:
    """The state of a walk (see :func:`tile_walk`).

    Attributes
    ----------
    m_left, n_left : Signal
        Rows (columns) of the result from the current tile's block on.
    m_more, n_more : Signal
        ``m_left > rows`` and ``n_left > cols``: a block follows in M (in N).
    down : Signal
        ``~n_more & m_more``: the next advance moves to the next row of tiles.
    last : Signal
        ``~n_more & ~m_more``: the current tile is the job's last.
    """

    m_left: Value
    n_left: Value
    m_more: Value
    n_more: Value
    down: Value
    last: Value


def tile_walk(m, config, job, *, restart, advance):
    """Add to ``m`` the counters of a walk over ``job``'s R x C output tiles, N inner.

    ``restart`` begins at the first tile; ``advance`` moves to the next tile (after the last
    it starts N over with M unchanged: the caller stops there, on ``last``). The comparisons
    with the tile size, and what they decide for the next advance, are kept in flip-flops
    beside the counters, so that whatever decides on them waits on no comparator or subtractor,
    and an enable that joins ``advance`` with one of them is a single gate.

    Parameters
    ----------
    m : Module
    config : EngineConfig
    job : View of ``job_layout(config)``
        M and N (and whether each is over one block) are read on ``restart``, N again at the
        end of each row of tiles.
    restart, advance : Value
        ``restart`` wins over ``advance``.

    Returns
    -------
    TileWalk
    """
    rows, cols = config.array.rows, config.array.cols
    walk = TileWalk(m_left=Signal(range(config.max_m + 1), name="m_left"),
                    n_left=Signal(range(config.max_n + 1), name="n_left"),
                    m_more=Signal(name="m_more"), n_more=Signal(name="n_more"),
                    down=Signal(name="walk_down"), last=Signal(name="walk_last"))

    def more(n_more, m_more):
        return [walk.n_more.eq(n_more), walk.m_more.eq(m_more),
                walk.down.eq(~n_more & m_more), walk.last.eq(~n_more & ~m_more)]

    with m.If(advance):
        with m.If(walk.n_more):
            m.d.sync += walk.n_left.eq(walk.n_left - cols)
            m.d.sync += more(walk.n_left > 2 * cols, walk.m_more)
        with m.Elif(walk.m_more):
            m.d.sync += [walk.n_left.eq(job.n), walk.m_left.eq(walk.m_left - rows)]
            m.d.sync += more(job.n_over, walk.m_left > 2 * rows)
        with m.Else():
            m.d.sync += walk.n_left.eq(job.n)
            m.d.sync += more(job.n_over, walk.m_more)
    with m.If(restart):
        m.d.sync += [walk.m_left.eq(job.m), walk.n_left.eq(job.n)]
        m.d.sync += more(job.n_over, job.m_over)
    return walk
