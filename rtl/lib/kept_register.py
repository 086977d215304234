"""Registers that synthesis must not merge with their equals."""

from amaranth.hdl import ClockSignal, Instance, ResetSignal, Value

from .platform import platform_family

__all__ = ["kept_register"]


def kept_register(m, platform, target, value, *, keep=True):
    """Add to ``m`` a ``sync`` register from ``value`` to ``target``, kept apart from its equals.

    Copies of one register (the array's control flags, which are pure delays of the input
    handshake; an address that several memories read at) are equal registers, which Yosys
    merges into one: one flip-flop then drives logic all over the die. With ``keep`` on an
    ECP5 each bit is a ``TRELLIS_FF`` instance (what Yosys would map it to, reset to
    ``target``'s ``init`` on ``sync``'s reset), which Yosys does not merge, so each copy stays
    where its users are.
    Elsewhere (and in simulation) it is an ordinary register.

    Parameters
    ----------
    m : Module
    platform : Platform or None
    target : Signal
        The register's output; it resets to its ``init``.
    value : Value
        Its input, as wide as ``target``.
    keep : bool
        Keep the register apart from equal ones.
    """
    if not keep or platform_family(platform) != "ecp5":
        m.d.sync += target.eq(value)
        return
    value, bits = Value.cast(value), Value.cast(target)
    for bit in range(len(target)):
        regset = "SET" if (target.init >> bit) & 1 else "RESET"
        m.submodules[f"{target.name}_ff{bit if len(target) > 1 else ''}"] = Instance(
            "TRELLIS_FF", p_GSR="DISABLED", p_CEMUX="1", p_CLKMUX="CLK", p_LSRMUX="LSR",
            p_REGSET=regset, p_SRMODE="LSR_OVER_CE",
            i_CLK=ClockSignal("sync"), i_LSR=ResetSignal("sync"), i_DI=value[bit],
            o_Q=bits[bit])
