"""The weight-stationary array's model: partial sums of each weight tile and exact cycle counts.

Results need nothing of their own: a weight-stationary array gives the same bits as the
output-stationary one for any GEMM (:func:`~.model.matmul`). Row ``m``'s partial sum for column
``n`` walks down a column of PEs that hold ``B[k0 .. k0 + R - 1, n]`` and adds their products in
that order; the next K tile's pass starts from it (its ``psum`` lanes), so the sum is
accumulated in order ``k = 0 .. K - 1``, one step at a time, and a saturating accumulator
clamps after every step exactly as in an output-stationary PE.

A GEMM on the bare array runs one pass per R x C weight tile of B, N tiles outer and K tiles
inner; a pass streams all M rows of A's K slice (see :mod:`.ws_tiling` for the beats). Like
:mod:`.model`, only numpy and the config are imported here.
"""

import math

import numpy as np

from .model import PassSchedule, check_operands, matmul

__all__ = ["ws_schedule_passes", "ws_array_cycles", "ws_gemm_passes", "ws_gemm_cycles",
           "ws_partial_sums", "ws_tile_origins"]


def ws_schedule_passes(ms, config):
    """Return the :class:`~.model.PassSchedule` of consecutive passes of ``ms`` rows each.

    Cycle 0 is the first of the ``config.rows`` beats that load the first weight tile; the
    first pass's first row beat follows on cycle ``rows``. Each later pass's first row beat
    is ``max(M, config.min_pass_spacing)`` cycles after the previous pass's (``M`` that pass's
    rows): its weights ride on the previous pass's beats from ``config.weight_load_delay``
    on, with beats that only load weights after a pass shorter than the spacing. Row ``m`` of
    a pass leaves ``config.result_latency`` cycles after its beat, so ``first_row`` and
    ``last_row`` are ``first_beat`` and ``last_beat`` plus the latency.
    """
    schedule = []
    first = config.rows
    for m in ms:
        if m < 1:
            raise ValueError(f"a pass needs at least one row, got M={m}")
        last = first + m - 1
        schedule.append(PassSchedule(first, last, first + config.result_latency,
                                     last + config.result_latency))
        first += max(m, config.min_pass_spacing)
    return schedule


def ws_array_cycles(ms, config):
    """Cycles from the first accepted beat (a weight row) to the last result row, both counted.

    For ``P`` passes of ``M`` rows: ``rows + (P - 1) * max(M, min_pass_spacing) + M +
    result_latency``.
    """
    return ws_schedule_passes(ms, config)[-1].last_row + 1


def ws_tile_origins(k, n, config):
    """``(k0, n0)``, the first row of K and column of N of each weight tile, in pass order."""
    return [(tk * config.rows, tn * config.cols)
            for tn in range(math.ceil(n / config.cols))
            for tk in range(math.ceil(k / config.rows))]


def ws_gemm_passes(k, n, config):
    """Number of R x C weight tiles (array passes) a K x N operand B needs."""
    return len(ws_tile_origins(k, n, config))


def ws_gemm_cycles(m, k, n, config):
    """Cycles the bare weight-stationary array takes for an M x K x N GEMM, one pass a tile."""
    return ws_array_cycles([m] * ws_gemm_passes(k, n, config), config)


def ws_partial_sums(a, b, config):
    """Return what each pass of an M x K x N GEMM starts from and gives, in pass order.

    Returns
    -------
    list of (numpy.ndarray, numpy.ndarray)
        For each weight tile (:func:`ws_tile_origins`), the M x C partial sums its pass
        starts from (zero for the first K tile, the previous K tile's for the others) and the
        M x C sums it gives; columns beyond N are zero. The last K tile's sums are the
        columns of :func:`~.model.matmul`.
    """
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    rows, cols = config.rows, config.cols
    b_pad = np.zeros((k, math.ceil(n / cols) * cols), dtype=np.int64)
    b_pad[:, :n] = b
    sums, before = [], None
    for k0, n0 in ws_tile_origins(k, n, config):
        if k0 == 0:
            before = np.zeros((m, cols), dtype=np.int64)
        # A K tile is `matmul` continued from the tile before: saturation step by step in k.
        after = matmul(a[:, k0:k0 + rows], b_pad[k0:k0 + rows, n0:n0 + cols], config,
                       start=before)
        sums.append((before, after))
        before = after
    return sums
