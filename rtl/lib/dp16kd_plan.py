"""How a buffer is cut into ECP5 ``DP16KD`` blocks (standard library only).

:func:`~.block_ram.buffer_memory` builds a buffer from the blocks planned here, and
:func:`~systolic.boards.block_ram_estimate.block_rams` counts them, so the estimate that
sizes the board presets is the count the build instantiates.
"""

from typing import NamedTuple

__all__ = ["DP16KD_MODES", "Dp16kdPlan", "dp16kd_plan", "uses_dp16kd"]

#: ``(data width, address bits)`` of the DP16KD's port modes, widest first: 1024 x 18 (two
#: 9-bit bytes with their own write enables), 2048 x 9, 4096 x 4, 8192 x 2, 16384 x 1.
DP16KD_MODES = ((18, 10), (9, 11), (4, 12), (2, 13), (1, 14))


def uses_dp16kd(family, latency):
    """Whether a buffer of ``latency`` read cycles is built from planned DP16KD blocks on an
    FPGA ``family``: an ECP5's two-cycle buffers are (the block's output register is the
    second cycle, which Yosys's inference does not use)."""
    return family == "ecp5" and latency == 2


class Dp16kdPlan(NamedTuple):
    """The blocks of one copy of a buffer (one read port).

    Attributes
    ----------
    data_width : int
        The port mode's data width (:data:`DP16KD_MODES`).
    address_bits : int
        The port mode's address bits.
    slot : int
        Bits of a word a piece holds at most: 9 in the 1024 x 18 mode, else ``data_width``.
    blocks : tuple of tuple of (int, int, int)
        The pieces of each block: ``(offset, bits, lane)``, a piece's place in the word, its
        width and its write-enable group.
    """
    data_width: int
    address_bits: int
    slot: int
    blocks: tuple


def dp16kd_plan(depth, width, lane=None):
    """Plan a ``depth`` x ``width`` buffer written in ``lane``-bit write-enable groups (the
    whole word by default) as DP16KD blocks.

    The widest mode whose depth holds the buffer is taken. The 1024 x 18 mode keeps two 9-bit
    pieces a block, each with its own write enable (the port's two low address bits); the
    narrower modes keep one piece a block. No piece crosses a write-enable group.

    Raises
    ------
    ValueError
        The buffer is deeper than a block holds.
    """
    modes = [(bits, abits) for bits, abits in DP16KD_MODES if depth <= 1 << abits]
    if not modes:
        raise ValueError(f"a buffer of {depth} words is deeper than a DP16KD holds (16384); "
                         f"use buffer_latency=1")
    data_width, address_bits = modes[0]
    slot = 9 if data_width == 18 else data_width
    per_block = 2 if data_width == 18 else 1
    lane = width if lane is None else lane
    pieces = [(offset, min(slot, stop - offset), start // lane)
              for start in range(0, width, lane)
              for stop in [min(start + lane, width)]
              for offset in range(start, stop, slot)]
    blocks = tuple(tuple(pieces[i:i + per_block]) for i in range(0, len(pieces), per_block))
    return Dp16kdPlan(data_width, address_bits, slot, blocks)
