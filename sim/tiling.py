"""How a GEMM is fed to the bare array: one pass per R x C output tile, and back again.

Backend-neutral (numpy only): every simulator harness drives the beats of :func:`array_feed`
and hands the rows it saw back to its ``assemble``; for an output-stationary array those are
:func:`gemm_beats` and :func:`assemble`, for a weight-stationary one :mod:`.ws_tiling`'s.
"""

import functools
import math
from dataclasses import dataclass

import numpy as np

from .errors import SimulationError
from .model import check_operands, result_dtype, result_rows
from .packing import pack_operands, unpack_result

__all__ = ["GemmRun", "ArrayFeed", "array_feed", "tile_origins", "gemm_beats", "assemble"]


@dataclass
class GemmRun:
    """What a simulator run of a GEMM produced.

    Attributes
    ----------
    result : numpy.ndarray
        The M x N matrix read from the hardware.
    cycles : int
        From the cycle the first beat was accepted to the cycle of the last result, both counted.
    wall_s : float
        Wall-clock seconds of the simulation proper.
    build_s : float
        Seconds spent preparing the simulator (elaboration or compilation), reported apart.
    backend : str
        The simulator that ran it.
    """
    result: np.ndarray
    cycles: int
    wall_s: float
    build_s: float
    backend: str


class ArrayFeed:
    """What a harness needs to run a GEMM on the bare array of either dataflow.

    Attributes
    ----------
    beats : list of int
        Packed input beats (``i_stream.payload``), in order; offered one a cycle, the array
        takes them back to back. Made on first use (a harness that packs the beats its own
        way never pays for them).
    rows : int
        Result rows to collect.
    assemble : callable
        Takes the raw result rows, in order, and returns the M x N result (raising
        :class:`~.errors.SimulationError` for rows that break the protocol).
    """

    def __init__(self, make_beats, rows, assemble):
        self._make_beats = make_beats
        self.rows = rows
        self.assemble = assemble

    @functools.cached_property
    def beats(self):
        return self._make_beats()


def array_feed(a, b, config):
    """Return the :class:`ArrayFeed` of ``A @ B`` on the bare array ``config`` describes."""
    a, b = check_operands(a, b, config)
    (m, k), n = a.shape, b.shape[1]
    if config.weight_stationary:
        from .ws_tiling import ws_assemble, ws_gemm_beats
        return ArrayFeed(lambda: ws_gemm_beats(a, b, config), result_rows(m, k, n, config),
                         lambda rows: ws_assemble(rows, a, b, config))
    return ArrayFeed(lambda: [beat for beats in gemm_beats(a, b, config) for beat in beats],
                     result_rows(m, k, n, config), lambda rows: assemble(rows, m, n, config))


def tile_origins(m, n, config):
    """``(row, col)`` of the top-left corner of each output tile, in pass order."""
    return [(ti * config.rows, tj * config.cols)
            for ti in range(math.ceil(m / config.rows))
            for tj in range(math.ceil(n / config.cols))]


def gemm_beats(a, b, config):
    """Return the packed operand beats of every pass, as a list of lists of ints.

    Tiles at the right and bottom edges are padded with zeros: a zero operand adds nothing to
    any accumulator, so padded rows and columns are simply dropped on the way back.
    """
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    rows, cols = config.rows, config.cols
    a_pad = np.zeros((math.ceil(m / rows) * rows, k), dtype=np.int64)
    b_pad = np.zeros((k, math.ceil(n / cols) * cols), dtype=np.int64)
    a_pad[:m] = a
    b_pad[:, :n] = b
    passes = []
    for r0, c0 in tile_origins(m, n, config):
        a_tile = a_pad[r0:r0 + rows].tolist()
        b_tile = b_pad[:, c0:c0 + cols].tolist()
        passes.append([pack_operands([a_tile[i][step] for i in range(rows)], b_tile[step],
                                     step == k - 1, config)
                       for step in range(k)])
    return passes


def assemble(row_bits, m, n, config):
    """Place the result rows a simulator saw into the M x N result.

    Raises
    ------
    SimulationError
        If the number of rows is wrong or a row's ``last`` flag disagrees with its position.
    """
    origins = tile_origins(m, n, config)
    expected = len(origins) * config.rows
    if len(row_bits) != expected:
        raise SimulationError(f"expected {expected} result rows, the hardware gave {len(row_bits)}")
    dtype = result_dtype(config)
    padded = np.zeros((math.ceil(m / config.rows) * config.rows,
                       math.ceil(n / config.cols) * config.cols), dtype=dtype)
    for index, bits in enumerate(row_bits):
        values, last = unpack_result(bits, config)
        tile, row = divmod(index, config.rows)
        if last != (row == config.rows - 1):
            raise SimulationError(f"result row {row} of tile {tile} has last={last}")
        r0, c0 = origins[tile]
        padded[r0 + row, c0:c0 + config.cols] = values
    return padded[:m, :n]
