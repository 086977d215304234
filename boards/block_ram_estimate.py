"""How many block RAMs an engine's buffers take on an FPGA family, for sizing board presets.

Standard library only. The family's block RAM modes are its facts in ``devices.json``
(:mod:`.catalog`); where the buffers are built from planned DP16KD blocks the count is the
builder's own plan (:func:`~systolic.rtl.lib.dp16kd_plan.dp16kd_plan`).
"""

import math

from ..rtl.config import ConfigError
from ..rtl.lib.dp16kd_plan import dp16kd_plan, uses_dp16kd
from . import catalog

__all__ = ["block_rams"]


def block_rams(config, family="ice40"):
    """Estimate the block RAMs of the buffers of ``config`` (an
    :class:`~systolic.rtl.engine.config.EngineConfig`) on an FPGA ``family`` (``"ice40"``,
    ``"ecp5"``, ``"gowin"``); return ``{"a", "b", "result", "total"}`` counts.

    The result buffer is counted twice, for its two read ports. Where the buffers are built
    from DP16KD blocks (an ECP5 with ``buffer_latency=2``) the count is the build's own.
    Elsewhere Yosys infers the block RAM, and each operand lane (one write-enable group) is
    counted on its own in the cheapest block mode, the result buffer as one memory: Yosys may
    do better by packing; the figure is for sizing presets. Buffers in distributed RAM take
    none. Raises :class:`~systolic.rtl.config.ConfigError` for an unknown family.
    """
    if family not in catalog.families():
        raise ConfigError("family", family, f"must be one of {', '.join(catalog.families())}")
    if config.buffer_ram != "block":
        return {"a": 0, "b": 0, "result": 0, "total": 0}
    array = config.array
    # Each buffer: (read-port copies, depth, write-enable lanes, bits a lane).
    buffers = {"a": (1, 2 * config.a_bank_words, array.rows, array.a_width),
               "b": (1, 2 * config.b_bank_words, array.cols, array.b_width),
               "result": (2, config.result_rows, 1, array.cols * array.acc_width)}
    if uses_dp16kd(family, config.buffer_latency):
        def blocks(depth, lanes, width):
            return len(dp16kd_plan(depth, lanes * width, width).blocks)
    else:
        modes = catalog.family(family)["block_ram_modes"]

        def blocks(depth, lanes, width):
            return lanes * _fewest_blocks(depth, width, modes)
    counts = {name: copies * blocks(depth, lanes, width)
              for name, (copies, depth, lanes, width) in buffers.items()}
    return {**counts, "total": sum(counts.values())}


def _fewest_blocks(depth, width, modes):
    """Fewest block RAMs holding a ``depth`` x ``width`` memory in one of ``modes``."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in modes)
