"""PLL clock generation for the boards: divider search and the Amaranth components.

The divider searches follow the rules of the vendor PLLs (iCE40 sysCLOCK: Lattice TN1251;
ECP5 sysCLOCK: Lattice TN1263; Gowin rPLL: the GW1NR and GW2A data sheets, DS117 and DS102) as
encoded in the open tools ``icepll``, ``ecppll`` and apycula's ``gowin_pll``, and pick the same
dividers those tools do, so a frequency we report is the one nextpnr will derive and time
against. The searches are plain arithmetic; the components wrap the vendor primitives.
"""

import math
from dataclasses import dataclass

from amaranth.hdl import Module, Signal, ClockDomain, ClockSignal, Instance
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = [
    "PLLError", "ICE40PLLConfig", "ECP5PLLConfig", "GowinPLLConfig", "ClockPlan",
    "ice40_pll", "ecp5_pll", "gowin_pll", "plan_clock",
    "ICE40PLL", "ECP5PLL", "GowinPLL", "ClockGenerator",
    "ICE40_LIMITS", "ECP5_LIMITS", "GOWIN_LIMITS", "GOWIN_ODIV", "ICE40_PRIMITIVES", "FAMILIES",
]

MHZ = 1e6

#: iCE40 PLL ranges in MHz (TN1251, as checked by icepll): input, phase detector, VCO, output.
ICE40_LIMITS = {"f_in": (10.0, 133.0), "f_pfd": (10.0, 133.0), "f_vco": (533.0, 1066.0),
                "f_out": (16.0, 275.0)}
#: ECP5 PLL ranges in MHz (TN1263, as checked by ecppll).
ECP5_LIMITS = {"f_in": (8.0, 400.0), "f_pfd": (3.125, 400.0), "f_vco": (400.0, 800.0),
               "f_out": (3.125, 400.0)}
#: Gowin rPLL ranges in MHz by devices.json device, for the speed grade on the boards
#: (GW1NR-9 C6/I5: DS117; GW2A-18 C8/I7: DS102), as gowin_pll checks them.
GOWIN_LIMITS = {
    "GW1NR-9": {"f_pfd": (3.0, 400.0), "f_vco": (400.0, 1200.0), "f_out": (3.125, 600.0)},
    "GW2A-18": {"f_pfd": (3.0, 500.0), "f_vco": (500.0, 1250.0), "f_out": (3.90625, 625.0)},
}
#: The rPLL's VCO-to-output dividers (its ODIV_SEL values).
GOWIN_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)
#: Families :func:`plan_clock` knows.
FAMILIES = ("ice40", "ecp5", "gowin")
#: iCE40 PLL primitives fed straight from a package pin (the board oscillator's pad).
ICE40_PRIMITIVES = ("SB_PLL40_PAD", "SB_PLL40_2F_PAD")


class PLLError(ValueError):
    """A requested clock cannot be made: out of the PLL's range or off by too much."""


def _check_frequency(name, value_hz, limits_mhz, family):
    if isinstance(value_hz, bool) or not isinstance(value_hz, (int, float)) \
            or not math.isfinite(value_hz):
        raise PLLError(f"{name}={value_hz!r} is invalid: must be a frequency in Hz")
    lo, hi = limits_mhz
    if not lo <= value_hz / MHZ <= hi:
        raise PLLError(f"{name}={value_hz / MHZ:g} MHz is out of the {family} PLL range: "
                       f"must be from {lo:g} to {hi:g} MHz")


def _check_error(config, max_error):
    if max_error is not None and abs(config.error) > max_error:
        raise PLLError(f"f_out={config.f_requested / MHZ:g} MHz cannot be made from "
                       f"{config.f_in / MHZ:g} MHz within {max_error:.2%}: the closest is "
                       f"{config.f_out / MHZ:.4f} MHz ({config.error:+.2%})")
    return config


@dataclass(frozen=True)
class ICE40PLLConfig:
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

    @property
    def error(self):
        """Relative error of the achieved frequency, ``f_out / f_requested - 1``."""
        return self.f_out / self.f_requested - 1

    def to_dict(self):
        return {"family": "ice40", "f_in_hz": self.f_in, "f_requested_hz": self.f_requested,
                "f_out_hz": self.f_out, "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco,
                "divr": self.divr, "divf": self.divf, "divq": self.divq,
                "filter_range": self.filter_range}


@dataclass(frozen=True)
class ECP5PLLConfig:
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

    @property
    def error(self):
        """Relative error of the achieved frequency, ``f_out / f_requested - 1``."""
        return self.f_out / self.f_requested - 1

    def to_dict(self):
        return {"family": "ecp5", "f_in_hz": self.f_in, "f_requested_hz": self.f_requested,
                "f_out_hz": self.f_out, "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco,
                "clki_div": self.clki_div, "clkfb_div": self.clkfb_div,
                "clkop_div": self.clkop_div, "clkop_cphase": self.clkop_cphase}


@dataclass(frozen=True)
class GowinPLLConfig:
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

    @property
    def error(self):
        """Relative error of the achieved frequency, ``f_out / f_requested - 1``."""
        return self.f_out / self.f_requested - 1

    def to_dict(self):
        return {"family": "gowin", "device": self.device, "f_in_hz": self.f_in,
                "f_requested_hz": self.f_requested, "f_out_hz": self.f_out,
                "f_pfd_hz": self.f_pfd, "f_vco_hz": self.f_vco, "idiv_sel": self.idiv_sel,
                "fbdiv_sel": self.fbdiv_sel, "odiv_sel": self.odiv_sel}


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
    _check_frequency("f_in", f_in_hz, ICE40_LIMITS["f_in"], "iCE40")
    _check_frequency("f_out", f_out_hz, ICE40_LIMITS["f_out"], "iCE40")
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
    return _check_error(config, max_error)


def ecp5_pll(f_in_hz, f_out_hz, *, max_error=None):
    """Return the ECP5 EHXPLLL dividers that come closest to ``f_out_hz`` from ``f_in_hz``.

    The search is ecppll's: closest output first, then the VCO nearest 600 MHz (the middle of
    its range), so the result matches ``ecppll -i IN -o OUT``.

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
    _check_frequency("f_in", f_in_hz, ECP5_LIMITS["f_in"], "ECP5")
    _check_frequency("f_out", f_out_hz, ECP5_LIMITS["f_out"], "ECP5")
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
    return _check_error(config, max_error)


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
    _check_frequency("f_in", f_in_hz, limits["f_pfd"], f"Gowin {device}")
    _check_frequency("f_out", f_out_hz, limits["f_out"], f"Gowin {device}")
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
    return _check_error(config, max_error)


@dataclass(frozen=True)
class ClockPlan:
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

    @property
    def error(self):
        return self.f_out / self.f_requested - 1

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
    _check_frequency("f_out", f_out_hz, (1e-6, 1e6), family)
    if f_out_hz == f_osc_hz:
        return ClockPlan(family, float(f_osc_hz), float(f_out_hz), float(f_osc_hz), None)
    if family == "gowin":
        config = gowin_pll(f_osc_hz, f_out_hz, device=device, max_error=max_error)
    else:
        search = ice40_pll if family == "ice40" else ecp5_pll
        config = search(f_osc_hz, f_out_hz, max_error=max_error)
    return ClockPlan(family, float(f_osc_hz), float(f_out_hz), config.f_out, config)


class ICE40PLL(wiring.Component):
    """An iCE40 PLL fed from the oscillator's package pin.

    The pad must be the PLL's dedicated input (on the UP5K SG48: pin 35, the iCEBreaker's and
    iCESugar's 12 MHz clock). The output drives a global clock network directly.

    Parameters
    ----------
    config : ICE40PLLConfig
        Dividers, from :func:`ice40_pll`.
    pad : io.PortLike
        The oscillator pin, requested with ``dir="-"``.
    primitive : str
        ``"SB_PLL40_PAD"`` (one output) or ``"SB_PLL40_2F_PAD"`` (two outputs, the second at
        half the frequency, which the same VCO setting gives for free).

    Members
    -------
    clk_out : Out(1)
        The generated clock.
    clk_half : Out(1)
        Half of ``clk_out``, phase aligned (``SB_PLL40_2F_PAD`` only).
    locked : Out(1)
        The PLL has locked (asynchronous to every clock).
    """

    def __init__(self, config, pad, *, primitive="SB_PLL40_PAD"):
        if primitive not in ICE40_PRIMITIVES:
            self._MustUse__silence = True
            raise PLLError(f"primitive={primitive!r} is invalid: must be one of "
                           f"{', '.join(ICE40_PRIMITIVES)}")
        self._config = config
        self._pad = pad
        self._primitive = primitive
        members = {"clk_out": Out(1), "locked": Out(1)}
        if primitive == "SB_PLL40_2F_PAD":
            members["clk_half"] = Out(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        c = self._config
        params = dict(
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=c.divr, p_DIVF=c.divf, p_DIVQ=c.divq, p_FILTER_RANGE=c.filter_range,
            i_PACKAGEPIN=self._pad.io,
            i_RESETB=1, i_BYPASS=0,
            o_LOCK=self.locked,
        )
        if self._primitive == "SB_PLL40_PAD":
            params.update(o_PLLOUTGLOBAL=self.clk_out)
        else:
            params.update(
                p_PLLOUT_SELECT_PORTA="GENCLK", p_PLLOUT_SELECT_PORTB="GENCLK_HALF",
                o_PLLOUTGLOBALA=self.clk_out, o_PLLOUTGLOBALB=self.clk_half)
        m.submodules.pll = Instance(self._primitive, **params)
        return m


class _BufferedPLL(wiring.Component):
    """A PLL whose reference is the oscillator through an input buffer (ECP5, Gowin).

    Members
    -------
    clk_in : In(1)
        The reference clock (the oscillator, through an input buffer).
    clk_out : Out(1)
        The generated clock.
    locked : Out(1)
        The PLL has locked (asynchronous to every clock).
    """

    def __init__(self, config):
        self._config = config
        super().__init__({"clk_in": In(1), "clk_out": Out(1), "locked": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.pll = self._instance(self._config)
        return m


class ECP5PLL(_BufferedPLL):
    """An ECP5 EHXPLLL with its primary output CLKOP (``clk_out``) fed back.

    Parameters
    ----------
    config : ECP5PLLConfig
        Dividers, from :func:`ecp5_pll`.
    """

    def _instance(self, c):
        return Instance(
            "EHXPLLL",
            # Loop filter settings and frequency annotations as the Lattice tools write them;
            # the open flow passes them through to the bitstream.
            a_FREQUENCY_PIN_CLKI=f"{c.f_in / MHZ:g}",
            a_FREQUENCY_PIN_CLKOP=f"{c.f_out / MHZ:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8",
            a_MFG_ENABLE_FILTEROPAMP="1", a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED",
            p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=c.clki_div,
            p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=c.clkop_div,
            p_CLKOP_CPHASE=c.clkop_cphase, p_CLKOP_FPHASE=0,
            p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=c.clkfb_div,
            i_RST=0, i_STDBY=0, i_CLKI=self.clk_in,
            o_CLKOP=self.clk_out, i_CLKFB=self.clk_out,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
            i_PLLWAKESYNC=0, i_ENCLKOP=0,
            o_LOCK=self.locked,
        )


class GowinPLL(_BufferedPLL):
    """A Gowin rPLL making CLKOUT (``clk_out``) with its internal feedback.

    Parameters
    ----------
    config : GowinPLLConfig
        Dividers, from :func:`gowin_pll`.
    """

    def _instance(self, c):
        return Instance(
            "rPLL",
            # The parameter set gowin_pll writes; the dynamic-setting inputs are tied off and
            # the static dividers used (DYN_*_SEL "false", the primitive's defaults).
            p_FCLKIN=f"{c.f_in / MHZ:g}",
            p_IDIV_SEL=c.idiv_sel, p_FBDIV_SEL=c.fbdiv_sel, p_ODIV_SEL=c.odiv_sel,
            i_CLKIN=self.clk_in, i_CLKFB=0, i_RESET=0, i_RESET_P=0,
            i_FBDSEL=0, i_IDSEL=0, i_ODSEL=0, i_PSDA=0, i_DUTYDA=0, i_FDLY=0,
            o_CLKOUT=self.clk_out, o_LOCK=self.locked,
        )


class ClockGenerator(wiring.Component):
    """Make a board's main clock and its reset from the oscillator.

    The generator drives a clock and a reset; the design defines the clock domain and connects
    them (Amaranth wants a domain defined where all its users can see it, i.e. in the top)::

        m.domains.sync = cd_sync = ClockDomain()
        m.submodules.clockgen = clockgen = board.clock_generator(30e6)
        m.d.comb += [cd_sync.clk.eq(clockgen.clk), cd_sync.rst.eq(clockgen.rst)]

    The reset is held until the PLL has locked and then for another :attr:`POR_SECONDS`, and
    is released synchronously to the new clock. The hold also covers the iCE40 block RAMs,
    which read as zero for a few microseconds after configuration. nextpnr derives the clock's
    constraint from the oscillator pin's through the PLL dividers, so it times the design
    against the achieved frequency.

    Parameters
    ----------
    plan : ClockPlan
        From :func:`plan_clock`.
    osc_resource : str
        Name of the platform's oscillator resource (number 0), e.g. ``"clk12"``.
    primitive : str or None
        iCE40 only: one of :data:`ICE40_PRIMITIVES` (default ``SB_PLL40_PAD``).

    Members
    -------
    clk : Out(1)
        The clock, at ``plan.f_out``.
    rst : Out(1)
        Reset, synchronous to ``clk``.
    locked : Out(1)
        The PLL has locked (1 when there is no PLL); asynchronous.
    osc_clk : Out(1)
        The oscillator itself, as a clock for logic, where the oscillator goes through an input
        buffer (:attr:`has_osc_clock`): ECP5, Gowin, or no PLL. (An iCE40 PLL takes the pad.)
    """

    #: Reset hold after lock, in seconds (Amaranth's iCE40 default domain uses the same).
    POR_SECONDS = 15e-6

    def __init__(self, plan, osc_resource, *, primitive=None):
        if primitive is not None and (plan.family != "ice40" or primitive not in ICE40_PRIMITIVES):
            self._MustUse__silence = True
            raise PLLError(f"primitive={primitive!r} is invalid for {plan.family}: iCE40 boards "
                           f"take one of {', '.join(ICE40_PRIMITIVES)}")
        self._plan = plan
        self._osc_resource = osc_resource
        self._primitive = primitive or "SB_PLL40_PAD"
        super().__init__({"clk": Out(1), "rst": Out(1, init=1), "locked": Out(1),
                          "osc_clk": Out(1)})

    @property
    def plan(self):
        return self._plan

    @property
    def has_osc_clock(self):
        """Whether :attr:`osc_clk` carries the oscillator."""
        return self._plan.pll is None or self._plan.family != "ice40"

    @property
    def frequency(self):
        """The achieved clock frequency in Hz."""
        return self._plan.f_out

    def elaborate(self, platform):
        if platform is None:
            raise PLLError("ClockGenerator needs a board platform; in simulation, add a clock "
                           "to the domain instead")
        m = Module()
        plan = self._plan
        osc = platform.request(self._osc_resource, 0, dir="-")
        if plan.pll is None:
            m.submodules.osc_buf = osc_buf = io.Buffer("i", osc)
            m.d.comb += [self.clk.eq(osc_buf.i), self.locked.eq(1), self.osc_clk.eq(osc_buf.i)]
        elif plan.family == "ice40":
            # The PLL takes the pad itself: no input buffer may sit in between.
            m.submodules.pll = pll = ICE40PLL(plan.pll, osc, primitive=self._primitive)
            m.d.comb += [self.clk.eq(pll.clk_out), self.locked.eq(pll.locked)]
        else:
            m.submodules.osc_buf = osc_buf = io.Buffer("i", osc)
            m.submodules.pll = pll = (ECP5PLL if plan.family == "ecp5" else GowinPLL)(plan.pll)
            m.d.comb += [pll.clk_in.eq(osc_buf.i), self.clk.eq(pll.clk_out),
                         self.locked.eq(pll.locked), self.osc_clk.eq(osc_buf.i)]

        # Reset hold: a reset-less timer in the new clock, restarted whenever lock is lost.
        # LOCK comes from the PLL asynchronously, hence the synchronizer; the reset output is
        # a register of this domain, so it is synchronous to the clock.
        m.domains += ClockDomain("gen", reset_less=True, local=True)
        m.d.comb += ClockSignal("gen").eq(self.clk)
        locked = Signal()
        m.submodules.lock_sync = FFSynchronizer(self.locked, locked, o_domain="gen")
        delay = max(1, math.ceil(self.POR_SECONDS * plan.f_out))
        timer = Signal(range(delay + 1))
        with m.If(~locked):
            m.d.gen += [timer.eq(0), self.rst.eq(1)]
        with m.Elif(timer == delay):
            m.d.gen += self.rst.eq(0)
        with m.Else():
            m.d.gen += timer.eq(timer + 1)
        return m
