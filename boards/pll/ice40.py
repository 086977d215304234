"""The iCE40 PLL (SB_PLL40 in SIMPLE feedback): its dividers, found as icepll finds them.

Lattice TN1251 gives the rules; the ranges are the family's entry in devices.json.
"""

from dataclasses import dataclass

from .. import catalog
from .common import MHZ, Dividers, PLLError, check_error, check_frequency, family_limits

__all__ = ["ICE40PLLConfig", "ice40_pll", "ICE40_LIMITS", "ICE40_PRIMITIVES"]

#: iCE40 PLL ranges in MHz (input, phase detector, VCO, output), from devices.json.
ICE40_LIMITS = family_limits(catalog.family("ice40")["pll"])
#: iCE40 PLL primitives fed straight from a package pin (the board oscillator's pad).
ICE40_PRIMITIVES = ("SB_PLL40_PAD", "SB_PLL40_2F_PAD")


@dataclass(frozen=True)
class ICE40PLLConfig(Dividers):
    """Dividers of an iCE40 PLL in SIMPLE feedback mode.

    ``f_out = f_in / (divr + 1) * (divf + 1) / 2**divq``. Frequencies are in Hz.
    """

    f_in: float
    f_requested: float
    f_out: float
    f_pfd: float
    f_vco: float
    divr: int
    divf: int
    divq: int
    filter_range: int

    def to_dict(self):
        return {"family": "ice40", "f_in_hz": self.f_in, "f_requested_hz": self.f_requested,
                "f_out_hz": self.f_out, "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco,
                "divr": self.divr, "divf": self.divf, "divq": self.divq,
                "filter_range": self.filter_range}


def _ice40_filter_range(f_pfd_mhz):
    # Loop filter setting by phase detector frequency (TN1251 / icepll).
    for upper, setting in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if f_pfd_mhz < upper:
            return setting
    return 6


def ice40_pll(f_in_hz, f_out_hz, *, max_error=None):
    """Return the iCE40 PLL dividers that come closest to ``f_out_hz`` from ``f_in_hz``.

    The search and its tie-break (the first hit in DIVR, DIVF, DIVQ order) are icepll's, so the
    result matches ``icepll -i IN -o OUT``.

    Parameters
    ----------
    f_in_hz, f_out_hz : float
        Input (oscillator) and requested output frequency in Hz.
    max_error : float or None
        Largest relative error of the achieved frequency; ``None`` accepts the closest.

    Raises
    ------
    PLLError
        If a frequency is outside the PLL's range, or the best output is off by more than
        ``max_error``.
    """
    check_frequency("f_in", f_in_hz, ICE40_LIMITS["f_in"], "iCE40")
    check_frequency("f_out", f_out_hz, ICE40_LIMITS["f_out"], "iCE40")
    f_in, target = f_in_hz / MHZ, f_out_hz / MHZ
    best = None
    for divr in range(16):
        f_pfd = f_in / (divr + 1)
        if not ICE40_LIMITS["f_pfd"][0] <= f_pfd <= ICE40_LIMITS["f_pfd"][1]:
            continue
        for divf in range(128):
            f_vco = f_pfd * (divf + 1)
            if not ICE40_LIMITS["f_vco"][0] <= f_vco <= ICE40_LIMITS["f_vco"][1]:
                continue
            for divq in range(1, 7):
                f_out = f_vco * 2.0 ** -divq
                if best is None or abs(f_out - target) < abs(best[0] - target):
                    best = (f_out, f_pfd, f_vco, divr, divf, divq)
    if best is None:    # pragma: no cover - every in-range input has a VCO setting
        raise PLLError(f"f_in={f_in:g} MHz gives no valid iCE40 PLL setting")
    f_out, f_pfd, f_vco, divr, divf, divq = best
    config = ICE40PLLConfig(
        f_in=float(f_in_hz), f_requested=float(f_out_hz), f_out=f_out * MHZ,
        f_pfd=f_pfd * MHZ, f_vco=f_vco * MHZ, divr=divr, divf=divf, divq=divq,
        filter_range=_ice40_filter_range(f_pfd))
    return check_error(config, max_error)
