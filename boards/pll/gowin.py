"""The Gowin PLL (rPLL, internal feedback): its dividers, found as apycula's gowin_pll finds
them.

The GW1NR and GW2A data sheets (DS117, DS102) give the rules; the ranges depend on the device
and its speed grade and are in each device's entry in devices.json.
"""

from dataclasses import dataclass

from .. import catalog
from .common import MHZ, Dividers, PLLError, check_error, check_frequency, family_limits

__all__ = ["GowinPLLConfig", "gowin_pll", "GOWIN_LIMITS", "GOWIN_ODIV"]

#: Gowin rPLL ranges in MHz by devices.json device, for the speed grade on the boards.
GOWIN_LIMITS = {name: family_limits(facts["pll"]) for name, facts in catalog.devices().items()
                if facts["family"] == "gowin"}
#: The rPLL's VCO-to-output dividers (its ODIV_SEL values).
GOWIN_ODIV = tuple(catalog.family("gowin")["pll"]["odiv"])


@dataclass(frozen=True)
class GowinPLLConfig(Dividers):
    """Dividers of a Gowin rPLL (CLKOUT, internal feedback).

    ``f_out = f_in * (fbdiv_sel + 1) / (idiv_sel + 1)``, ``f_vco = f_out * odiv_sel``.
    Frequencies are in Hz.
    """

    f_in: float
    f_requested: float
    f_out: float
    f_pfd: float
    f_vco: float
    idiv_sel: int
    fbdiv_sel: int
    odiv_sel: int
    device: str

    def to_dict(self):
        return {"family": "gowin", "device": self.device, "f_in_hz": self.f_in,
                "f_requested_hz": self.f_requested, "f_out_hz": self.f_out,
                "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco, "idiv_sel": self.idiv_sel,
                "fbdiv_sel": self.fbdiv_sel, "odiv_sel": self.odiv_sel}


def gowin_pll(f_in_hz, f_out_hz, *, device="GW1NR-9", max_error=None):
    """Return the Gowin rPLL dividers that come closest to ``f_out_hz`` from ``f_in_hz``.

    The search and its tie-break (the first hit in IDIV_SEL, FBDIV_SEL, ODIV_SEL order) are
    apycula's ``gowin_pll``, so the result matches ``gowin_pll -i IN -o OUT -d DEVICE``.

    Parameters
    ----------
    f_in_hz, f_out_hz : float
        Input (oscillator) and requested output frequency in Hz.
    device : str
        A :data:`GOWIN_LIMITS` key (the devices.json name).
    max_error : float or None
        Largest relative error of the achieved frequency; ``None`` accepts the closest.

    Raises
    ------
    PLLError
        If the device is unknown, a frequency is outside the PLL's range, or the best output is
        off by more than ``max_error``.
    """
    if device not in GOWIN_LIMITS:
        raise PLLError(f"device={device!r} is invalid: the Gowin PLL ranges are known for "
                       f"{', '.join(GOWIN_LIMITS)}")
    limits = GOWIN_LIMITS[device]
    check_frequency("f_in", f_in_hz, limits["f_pfd"], f"Gowin {device}")
    check_frequency("f_out", f_out_hz, limits["f_out"], f"Gowin {device}")
    f_in, target = f_in_hz / MHZ, f_out_hz / MHZ
    best = None
    for idiv in range(64):
        f_pfd = f_in / (idiv + 1)
        if not limits["f_pfd"][0] <= f_pfd <= limits["f_pfd"][1]:
            continue
        for fbdiv in range(64):
            f_out = f_in * (fbdiv + 1) / (idiv + 1)
            if not limits["f_out"][0] < f_out < limits["f_out"][1]:
                continue
            for odiv in GOWIN_ODIV:
                f_vco = f_out * odiv
                if not limits["f_vco"][0] < f_vco < limits["f_vco"][1]:
                    continue
                if best is None or abs(f_out - target) < abs(best[0] - target):
                    best = (f_out, f_pfd, f_vco, idiv, fbdiv, odiv)
    if best is None:
        raise PLLError(f"f_out={target:g} MHz gives no valid Gowin PLL setting from {f_in:g} MHz")
    f_out, f_pfd, f_vco, idiv, fbdiv, odiv = best
    config = GowinPLLConfig(
        f_in=float(f_in_hz), f_requested=float(f_out_hz), f_out=f_out * MHZ, f_pfd=f_pfd * MHZ,
        f_vco=f_vco * MHZ, idiv_sel=idiv, fbdiv_sel=fbdiv, odiv_sel=odiv, device=device)
    return check_error(config, max_error)
