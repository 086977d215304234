"""A board's main clock: straight from the oscillator, or through its family's PLL.

Plain arithmetic, no Amaranth: the command line plans (and checks) a clock before anything is
built, and the build uses that plan.
"""

from dataclasses import dataclass

from .common import Dividers, PLLError, check_frequency
from .ecp5 import ecp5_pll
from .gowin import gowin_pll
from .ice40 import ice40_pll

__all__ = ["ClockPlan", "plan_clock", "FAMILIES"]

#: Families :func:`plan_clock` knows.
FAMILIES = ("ice40", "ecp5", "gowin")


@dataclass(frozen=True)
class ClockPlan(Dividers):
    """How a board makes its main clock: straight from the oscillator, or through a PLL.

    Attributes
    ----------
    family : str
        One of :data:`FAMILIES`.
    f_osc : float
        Oscillator frequency in Hz.
    f_requested : float
        Requested frequency in Hz.
    f_out : float
        Achieved frequency in Hz: what the design runs at and is timed against.
    pll : ICE40PLLConfig, ECP5PLLConfig, GowinPLLConfig or None
        The PLL setting; ``None`` when the oscillator is used as it is.
    """

    family: str
    f_osc: float
    f_requested: float
    f_out: float
    pll: object = None

    def to_dict(self):
        return {"family": self.family, "f_osc_hz": self.f_osc, "f_requested_hz": self.f_requested,
                "f_out_hz": self.f_out, "pll": None if self.pll is None else self.pll.to_dict()}


def plan_clock(family, f_osc_hz, f_out_hz, *, max_error=0.01, device=None):
    """Return the :class:`ClockPlan` that makes ``f_out_hz`` from a ``f_osc_hz`` oscillator.

    A request equal to the oscillator frequency uses the oscillator directly (no PLL); anything
    else goes through the family's PLL. ``device`` (a :data:`GOWIN_LIMITS` key) is needed for
    Gowin, whose PLL ranges differ by device.

    Raises
    ------
    PLLError
        If the frequency is out of the PLL's range or not reachable within ``max_error``.
    """
    if family not in FAMILIES:
        raise PLLError(f"family={family!r} is invalid: must be one of {', '.join(FAMILIES)}")
    check_frequency("f_out", f_out_hz, (1e-6, 1e6), family)
    if f_out_hz == f_osc_hz:
        return ClockPlan(family, float(f_osc_hz), float(f_out_hz), float(f_osc_hz), None)
    if family == "gowin":
        config = gowin_pll(f_osc_hz, f_out_hz, device=device, max_error=max_error)
    else:
        search = ice40_pll if family == "ice40" else ecp5_pll
        config = search(f_osc_hz, f_out_hz, max_error=max_error)
    return ClockPlan(family, float(f_osc_hz), float(f_out_hz), config.f_out, config)
