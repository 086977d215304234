"""PLL clock generation for the boards: divider searches by family, the plan, the components.

The divider searches follow the rules of the vendor PLLs (iCE40 sysCLOCK: Lattice TN1251;
ECP5 sysCLOCK: Lattice TN1263; Gowin rPLL: the GW1NR and GW2A data sheets, DS117 and DS102) as
encoded in the open tools ``icepll``, ``ecppll`` and apycula's ``gowin_pll``, and pick the same
dividers those tools do, so a frequency we report is the one nextpnr will derive and time
against. Their ranges are the families' (and Gowin devices') entries in ``devices.json``.

* :mod:`.ice40`, :mod:`.ecp5`, :mod:`.gowin` -- one family's dividers and their search;
* :mod:`.plan` -- :class:`~.plan.ClockPlan` and :func:`~.plan.plan_clock`, which picks the
  family's search (or the oscillator itself);
* :mod:`.common` -- :class:`~.common.PLLError` and the checks the searches share;
* :mod:`.gateware` -- the primitives as Amaranth components and
  :class:`~.gateware.ClockGenerator`.

Everything but :mod:`.gateware` is plain arithmetic: importing this package imports no
Amaranth, and the components are loaded when first asked for.
"""

from .common import PLLError
from .ecp5 import ECP5_LIMITS, ECP5PLLConfig, ecp5_pll
from .gowin import GOWIN_LIMITS, GOWIN_ODIV, GowinPLLConfig, gowin_pll
from .ice40 import ICE40_LIMITS, ICE40_PRIMITIVES, ICE40PLLConfig, ice40_pll
from .plan import FAMILIES, ClockPlan, plan_clock

__all__ = [
    "PLLError", "ICE40PLLConfig", "ECP5PLLConfig", "GowinPLLConfig", "ClockPlan",
    "ice40_pll", "ecp5_pll", "gowin_pll", "plan_clock",
    "ICE40PLL", "ECP5PLL", "GowinPLL", "ClockGenerator",
    "ICE40_LIMITS", "ECP5_LIMITS", "GOWIN_LIMITS", "GOWIN_ODIV", "ICE40_PRIMITIVES", "FAMILIES",
]

_GATEWARE = ("ICE40PLL", "ECP5PLL", "GowinPLL", "ClockGenerator")


def __getattr__(name):
    if name in _GATEWARE:
        from . import gateware
        return getattr(gateware, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
