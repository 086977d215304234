"""The numpy model of a weight-stationary GEMM engine: its buffers, results and job timing.

:mod:`.engine_model` calls this for engines whose ``config.array.dataflow`` is
``"weight-stationary"``; the decoder, the drain and everything else it models are the
output-stationary engine's. Like it, this imports numpy and our stdlib-only config modules,
never Amaranth.

**Timing** (see :class:`~systolic.rtl.engine.ws_feeder.WSTileFeeder`). With ``R x C`` the
array, ``L = buffer_latency``, ``P = ceil(N / C) * ceil(K / R)`` passes and
``S = config.pass_spacing(M)`` cycles between the first rows of two passes
(``max(M, min_pass_spacing, result_latency + result_write_stages + L + 1)``):

* the first tile's weight rows reach the array from ``launch + first_beat_delay`` on, a cycle
  each; pass ``p``'s first row ``R + p * S`` cycles after the first of them, its rows on
  consecutive cycles; the last beat is the last pass's last row;
* row beats give their rows ``result_latency`` cycles later, written ``result_write_stages``
  later; the engine has no array work left the cycle after the last write (``busy_free``);
* a job that emits sends its results as a READ taken on ``busy_free - 1`` would: the drain
  takes the rows in the output-stationary order, a row a cycle (a padding row past M takes its
  cycle and sends nothing), the first beat ``read_delay`` cycles after ``busy_free``.
"""

import math

import numpy as np

from .model import matmul

__all__ = ["ws_job_timing", "ws_compute", "drain_cycles"]


def drain_cycles(first, m, n, config):
    """Cycles of the result beats of an ``m x n`` result whose rows are all written, the first
    on ``first``: one row a cycle in tile order, a tile's padding rows (past M) taking theirs."""
    from .engine_model import tile_extents
    rows = config.array.rows
    cycles, taken = [], 0
    for real in tile_extents(m, rows):
        for _ in tile_extents(n, config.array.cols):
            cycles.append(list(range(first + taken, first + taken + real)))
            taken += rows
    return cycles


def ws_job_timing(m, k, n, config, launch, *, emit=True, words=True):
    """The :class:`~.engine_model.JobTiming` of an ``m x k x n`` job of a weight-stationary
    engine launched on cycle ``launch`` (see the module docstring)."""
    from .engine_model import JobTiming, first_beat_delay, read_delay, tile_extents
    array = config.array
    passes = math.ceil(n / array.cols) * math.ceil(k / array.rows)
    first_row = launch + first_beat_delay(config) + array.rows
    last_beat = first_row + (passes - 1) * config.pass_spacing(m) + m - 1
    last_row = last_beat + array.result_latency
    busy_free = last_row + config.result_write_stages + 1
    cycles, out_free = [], None
    if emit:
        first = busy_free + read_delay(config)
        cols_in_tile = tile_extents(n, array.cols)
        if words:
            for index, rows in enumerate(drain_cycles(first, m, n, config)):
                for cycle in rows:
                    cycles.extend([cycle] * cols_in_tile[index % len(cols_in_tile)])
            out_free = cycles[-1] + 1
        else:
            tiles = math.ceil(m / array.rows) * len(cols_in_tile)
            out_free = first + (tiles - 1) * array.rows + tile_extents(m, array.rows)[-1]
    return JobTiming(launch=launch, last_beat=last_beat, last_row=last_row, words=cycles,
                     busy_free=busy_free, out_free=out_free)


def ws_compute(model, m, k, n, bank, accumulate):
    """Run a weight-stationary job on ``model``'s buffers (an :class:`~.engine_model.
    EngineModel`), as the engine does: the result rows inside M of every N tile, padding
    columns included, continued from the result buffer's rows for an accumulating job.

    Weight rows past K are zeros, so the padding lanes of A change nothing; rows past M are
    not passed through the array and keep what they held.
    """
    config, array = model.config, model.config.array
    rows, cols = array.rows, array.cols
    tiles_k, tiles_m, tiles_n = math.ceil(k / rows), math.ceil(m / rows), math.ceil(n / cols)
    # A[mm, kt*R + i] is lane i of word kt * max_m + mm; B[kk, nt*C + j] lane j of word
    # nt * k_depth + kk.
    a_words = model.a_mem[bank * config.a_bank_words:][:tiles_k * config.max_m]
    a = a_words.reshape(tiles_k, config.max_m, rows)[:, :m, :].transpose(1, 0, 2)
    a = a.reshape(m, tiles_k * rows)[:, :k]
    b_words = model.b_mem[bank * config.b_bank_words:][:tiles_n * config.k_depth]
    b = b_words.reshape(tiles_n, config.k_depth, cols)[:, :k, :].transpose(1, 0, 2).reshape(k, -1)
    # The output-stationary engine's result layout: row ``i`` of tile ``(ti, tj)`` at
    # ``(ti * tiles_n + tj) * rows + i``.
    used = tiles_m * tiles_n * rows
    tiles = model.c_mem[:used].reshape(tiles_m, tiles_n, rows, cols)
    held = tiles.transpose(0, 2, 1, 3).reshape(tiles_m * rows, tiles_n * cols).copy()
    start = held[:m] if accumulate else None
    held[:m] = matmul(a, b, array, start=start).astype(object)
    model.c_mem[:used] = held.reshape(tiles_m, rows, tiles_n, cols).transpose(
        0, 2, 1, 3).reshape(-1, cols)
