"""The ECP5 PLL (EHXPLLL, CLKOP fed back): its dividers, found as ecppll finds them.

Lattice TN1263 gives the rules; the ranges are the family's entry in devices.json.
"""

from dataclasses import dataclass

from .. import catalog
from .common import MHZ, Dividers, PLLError, check_error, check_frequency, family_limits

__all__ = ["ECP5PLLConfig", "ecp5_pll", "ECP5_LIMITS"]

#: ECP5 PLL ranges in MHz (input, phase detector, VCO, output), from devices.json.
ECP5_LIMITS = family_limits(catalog.family("ecp5")["pll"])


@dataclass(frozen=True)
class ECP5PLLConfig(Dividers):
    """Dividers of an ECP5 EHXPLLL with CLKOP as feedback.

    ``f_out = f_in / clki_div * clkfb_div``, ``f_vco = f_out * clkop_div``. Frequencies in Hz.
    """

    f_in: float
    f_requested: float
    f_out: float
    f_pfd: float
    f_vco: float
    clki_div: int
    clkfb_div: int
    clkop_div: int

    @property
    def clkop_cphase(self):
        """Coarse phase of CLKOP in VCO cycles: ``clkop_div - 1``, Lattice's setting for 0
        degrees. With CLKOP as its own feedback the phase does not change the frequency;
        ecppll writes about half the divider (180 degrees) instead."""
        return self.clkop_div - 1

    def to_dict(self):
        return {"family": "ecp5", "f_in_hz": self.f_in, "f_requested_hz": self.f_requested,
                "f_out_hz": self.f_out, "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco,
                "clki_div": self.clki_div, "clkfb_div": self.clkfb_div,
                "clkop_div": self.clkop_div, "clkop_cphase": self.clkop_cphase}


def ecp5_pll(f_in_hz, f_out_hz, *, max_error=None):
    """Return the ECP5 EHXPLLL dividers that come closest to ``f_out_hz`` from ``f_in_hz``.

    The search is ecppll's: closest output first, then the VCO nearest 600 MHz (the middle of
    its range), so the result matches ``ecppll -i IN -o OUT``.

    The parameters and the errors are :func:`~.ice40.ice40_pll`'s.
    """
    check_frequency("f_in", f_in_hz, ECP5_LIMITS["f_in"], "ECP5")
    check_frequency("f_out", f_out_hz, ECP5_LIMITS["f_out"], "ECP5")
    f_in, target = f_in_hz / MHZ, f_out_hz / MHZ
    vco_lo, vco_hi = ECP5_LIMITS["f_vco"]
    best = None
    for clki_div in range(1, 129):
        f_pfd = f_in / clki_div
        if not ECP5_LIMITS["f_pfd"][0] <= f_pfd <= ECP5_LIMITS["f_pfd"][1]:
            continue
        for clkfb_div in range(1, 81):
            f_out = f_pfd * clkfb_div
            for clkop_div in range(1, 129):
                f_vco = f_out * clkop_div
                if not vco_lo <= f_vco <= vco_hi:
                    continue
                key = (abs(f_out - target), abs(f_vco - 600.0))
                if best is None or key < best[0]:
                    best = (key, f_out, f_pfd, f_vco, clki_div, clkfb_div, clkop_div)
    if best is None:
        raise PLLError(f"f_out={target:g} MHz gives no valid ECP5 PLL setting from {f_in:g} MHz")
    _, f_out, f_pfd, f_vco, clki_div, clkfb_div, clkop_div = best
    config = ECP5PLLConfig(
        f_in=float(f_in_hz), f_requested=float(f_out_hz), f_out=f_out * MHZ,
        f_pfd=f_pfd * MHZ, f_vco=f_vco * MHZ,
        clki_div=clki_div, clkfb_div=clkfb_div, clkop_div=clkop_div)
    return check_error(config, max_error)
