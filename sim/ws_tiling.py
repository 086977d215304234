"""How a GEMM is fed to the bare weight-stationary array, and its rows placed back.

One pass per R x C weight tile of B (N tiles outer, K tiles inner, :func:`~.ws_model.
ws_tile_origins`), each streaming the M rows of A's K slice. The bare array keeps no partial
sums of its own (the engine around it will, in its result buffer), so a pass after the first
of a column of tiles gets the partial sums it continues from the model
(:func:`~.ws_model.ws_partial_sums`) in its beats, and :func:`ws_assemble` holds every pass's
rows to the model's sums, not only the last K tile's: an open loop, in which every row the
hardware gives is checked.

Backend-neutral (numpy only), like :mod:`.tiling`.
"""

import math

import numpy as np

from .errors import SimulationError
from .model import check_operands, result_dtype
from .packing import pack_ws_operands, unpack_result
from .ws_model import ws_partial_sums, ws_schedule_passes, ws_tile_origins

__all__ = ["ws_gemm_beats", "ws_assemble"]


def ws_gemm_beats(a, b, config):
    """Return the packed beats of ``A @ B`` on the weight-stationary array, in order.

    The beats follow :func:`~.ws_model.ws_schedule_passes` exactly, so an array that takes a
    beat every cycle never stalls: ``rows`` beats load the first tile (its bottom row first);
    pass ``p``'s M row beats start at its ``first_beat``, and the next tile's weight rows ride
    on the beats ``weight_load_delay .. weight_load_delay + rows - 1`` after it, on beats of
    their own (no row) where the pass is shorter. Beats that carry nothing fill the rest of a
    pass shorter than ``min_pass_spacing``. Edge tiles are padded with zeros.
    """
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    rows, cols = config.rows, config.cols
    a_pad = np.zeros((m, math.ceil(k / rows) * rows), dtype=np.int64)
    b_pad = np.zeros((a_pad.shape[1], math.ceil(n / cols) * cols), dtype=np.int64)
    a_pad[:, :k] = a
    b_pad[:k, :n] = b
    origins = ws_tile_origins(k, n, config)
    schedule = ws_schedule_passes([m] * len(origins), config)
    total = schedule[-1].last_beat + 1
    # Per beat: (A row, its partial sums, first, last) or None; a weight row or None.
    row_of = [None] * total
    weight_of = [None] * total

    def load(tile, start):
        k0, n0 = origins[tile]
        for r in range(rows):
            weight_of[start + r] = b_pad[k0 + rows - 1 - r, n0:n0 + cols].tolist()

    load(0, 0)
    for p, ((k0, _), (psum, _), when) in enumerate(zip(origins, ws_partial_sums(a, b, config),
                                                       schedule)):
        for i in range(m):
            row_of[when.first_beat + i] = (a_pad[i, k0:k0 + rows].tolist(), psum[i].tolist(),
                                           i == 0, i == m - 1)
        if p + 1 < len(origins):
            load(p + 1, when.first_beat + config.weight_load_delay)
    zeros_a, zeros_w, zeros_c = [0] * rows, [0] * cols, [0] * cols
    beats = []
    for row, weight in zip(row_of, weight_of):
        a_row, psum, first, last = row or (zeros_a, zeros_c, False, False)
        beats.append(pack_ws_operands(a_row, weight or zeros_w, psum, row=row is not None,
                                      load=weight is not None, first=first, last=last,
                                      config=config))
    return beats


def ws_assemble(row_bits, a, b, config):
    """Return the M x N result from the rows a simulator saw for ``A @ B``.

    Raises
    ------
    SimulationError
        If the number of rows is wrong, a row's ``last`` flag disagrees with its position, or
        a pass's partial sums (any K tile but the last, whose rows are the result) differ from
        the model's.
    """
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    origins = ws_tile_origins(k, n, config)
    if len(row_bits) != m * len(origins):
        raise SimulationError(f"expected {m * len(origins)} result rows, the hardware gave "
                              f"{len(row_bits)}")
    sums = ws_partial_sums(a, b, config)
    cols = config.cols
    padded = np.zeros((m, math.ceil(n / cols) * cols), dtype=result_dtype(config))
    for tile, ((k0, n0), (_, model)) in enumerate(zip(origins, sums)):
        got = np.zeros((m, cols), dtype=result_dtype(config))
        for i in range(m):
            values, last = unpack_result(row_bits[tile * m + i], config)
            if last != (i == m - 1):
                raise SimulationError(f"result row {i} of pass {tile} has last={last}")
            got[i] = values
        if k0 + config.rows < k and not np.array_equal(got, model):
            i, j = (int(x) for x in np.argwhere(got != model)[0])
            raise SimulationError(f"pass {tile} (K from {k0}, N from {n0}): partial sum "
                                  f"[{i}, {n0 + j}] is {got[i, j]}, the model's {model[i, j]}")
        padded[:, n0:n0 + cols] = got
    return padded[:, :n]
