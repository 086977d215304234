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
    """

    m_left: Value
    n_left: Value
    m_more: Value
    n_more: Value


def tile_walk(m, config, job, *, restart, advance):
    """Add to ``m`` the counters of a walk over ``job``'s R x C output tiles, N inner.

    ``restart`` begins at the first tile; ``advance`` moves to the next tile (after the last
    it starts N over with M unchanged: the caller stops there, on ``~n_more & ~m_more``). The
    comparisons with the tile size are kept in flip-flops beside the counters, so that whatever
    decides on them waits on no comparator or subtractor.

    Parameters
    ----------
    m : Module
    config : EngineConfig
    job : View of ``job_layout(config)``
        M and N are read on ``restart``, and N again at the end of each row of tiles.
    restart, advance : Value
        ``restart`` wins over ``advance``.

    Returns
    -------
    TileWalk
    """
    rows, cols = config.array.rows, config.array.cols
    walk = TileWalk(m_left=Signal(range(config.max_m + 1), name="m_left"),
                    n_left=Signal(range(config.max_n + 1), name="n_left"),
                    m_more=Signal(name="m_more"), n_more=Signal(name="n_more"))
    with m.If(advance):
        with m.If(walk.n_more):
            m.d.sync += [walk.n_left.eq(walk.n_left - cols), walk.n_more.eq(walk.n_left > 2 * cols)]
        with m.Else():
            m.d.sync += [walk.n_left.eq(job.n), walk.n_more.eq(job.n > cols)]
            with m.If(walk.m_more):
                m.d.sync += [walk.m_left.eq(walk.m_left - rows),
                             walk.m_more.eq(walk.m_left > 2 * rows)]
    with m.If(restart):
        m.d.sync += [walk.m_left.eq(job.m), walk.n_left.eq(job.n),
                     walk.m_more.eq(job.m > rows), walk.n_more.eq(job.n > cols)]
    return walk
