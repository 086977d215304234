"""The FPGA families' hard multiplier blocks, and how many PEs one serves (standard library only).

The gateware picks a PE's multiplier by these facts (:mod:`systolic.rtl.multiplier`), and the
cost model's DSP count reads the same (:func:`pes_per_multiplier`, which the device catalog
re-exports), so both count blocks alike.
"""

from typing import NamedTuple

__all__ = ["HardMultiplier", "HARD_MULTIPLIERS", "pes_per_multiplier"]


class HardMultiplier(NamedTuple):
    """The DSP block of a family a PE multiplies on."""

    #: The block's primitive.
    primitive: str
    #: Widest operand the block takes, in bits.
    max_bits: int
    #: Widest operands for which the block serves two PEs; ``None``: one PE a block.
    half_max_bits: int | None
    #: The publication the facts are from.
    source: str


#: The hard multiplier of each family, by the family name of
#: :func:`~.platform.platform_family`.
HARD_MULTIPLIERS = {
    "ice40": HardMultiplier(
        "SB_MAC16", 16, 8,
        "Lattice TN1295 (DSP function usage guide for iCE40 devices): one SB_MAC16 is a "
        "16 x 16 multiplier or two independent 8 x 8 ones"),
    "ecp5": HardMultiplier(
        "MULT18X18D", 18, None,
        "Lattice ECP5 and ECP5-5G Family Data Sheet (FPGA-DS-02012): sysDSP slices of 18 x 18 "
        "multipliers"),
    "gowin": HardMultiplier(
        "MULT18X18", 18, 9,
        "Gowin UG287 (DSP user guide): the MULT18X18 and MULT9X9 primitives; Yosys' "
        "synth_gowin maps a product of operands up to 9 bits onto a MULT9X9, two to an 18 x 18 "
        "multiplier"),
}


def pes_per_multiplier(family, a_width, b_width):
    """How many PEs with ``a_width`` x ``b_width`` operands one hard multiplier block of
    ``family`` serves: 2 where the block splits in two for operands that narrow (an iCE40
    SB_MAC16 in its dual 8 x 8 mode, a Gowin 18 x 18 multiplier as two MULT9X9), 1 where the
    operands fit the block, 0 where they are too wide for it (or the family has none).

    Both kinds of block take unsigned operands as such (their sign controls), so an unsigned
    operand needs no extra sign bit.
    """
    hard = HARD_MULTIPLIERS.get(family)
    widest = max(a_width, b_width)
    if hard is None or widest > hard.max_bits:
        return 0
    return 2 if hard.half_max_bits is not None and widest <= hard.half_max_bits else 1
