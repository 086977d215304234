"""The PLL primitives as Amaranth components, and the clock generator a board build puts in
front of the design (the one Amaranth part of the PLL package)."""

import math

from amaranth.hdl import Module, Signal, ClockDomain, ClockSignal, Instance
from amaranth.lib import io, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from .common import MHZ, PLLError
from .ice40 import ICE40_PRIMITIVES

__all__ = ["ICE40PLL", "ECP5PLL", "GowinPLL", "ClockGenerator"]


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
