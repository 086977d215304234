"""Copies of a feeder's read addresses, one a lane, for operand buffers in distributed RAM."""

from amaranth.hdl import Signal
from amaranth.lib.data import ArrayLayout
from amaranth.lib.wiring import Out

from .layouts import a_read_signature, b_read_signature
from ..lib.kept_register import kept_register

__all__ = ["lane_address_members", "drive_lane_addresses"]


def lane_address_members(config):
    """The members ``a_lane_addr`` and ``b_lane_addr`` of a feeder of ``config``: none unless
    its buffers are distributed (``config.read_address_stages``), which the engine then builds
    one memory a lane, each read at its own copy of the address."""
    if not config.read_address_stages:
        return {}
    return {f"{name}_lane_addr": Out(ArrayLayout(signature.addr_width, lanes))
            for name, signature, lanes in (("a", a_read_signature(config), config.array.rows),
                                           ("b", b_read_signature(config), config.array.cols))}


def drive_lane_addresses(m, platform, feeder, addresses):
    """Drive ``feeder``'s lane address members (if it has them) from ``addresses`` (``{"a": ...,
    "b": ...}``): one copy of each address per lane, each at that lane's memory alone, a
    register behind the feeder's (``config.read_address_stages``). The copies may be far away,
    and nothing but a wire lies between them and the registers they copy."""
    for name, address in addresses.items():
        lanes = getattr(feeder, f"{name}_lane_addr", None)
        if lanes is None:
            continue
        for i in range(len(lanes)):
            copy = Signal.like(address, name=f"{name}_addr_lane{i}")
            kept_register(m, platform, copy, address)
            m.d.comb += lanes[i].eq(copy)
