"""The boards systolic builds for: one record per board, on top of the amaranth-boards
platform classes.

A :class:`Board` holds everything about one board, as amaranth-boards keeps everything about a
board on its platform class: the platform class itself, the FPGA (its key in ``devices.json``,
where the device's and its family's facts are), the oscillator and the main clock a build
targets, the UART to the host and the USB-serial chip behind it, the LEDs and what each shows,
the tools that program it and the design a build puts on it unless told otherwise (the array,
the engine's buffers before they are cut to the device, nextpnr's placer and seed). What follows
from those facts (the engine cut to the block RAM, the link rate, the clock plan) is computed by
:mod:`systolic.boards.design`. The platform class is imported only when a platform is made, so
listing boards (``systolic boards``) does not load Amaranth.
"""

import importlib
from dataclasses import dataclass, field

from ..rtl.config import ArrayConfig
from . import catalog
from .toolchain import PLACERS

__all__ = ["Board", "BOARDS", "Buffers", "Programmer", "LED_ROLES", "SerialChip",
           "SERIAL_CHIPS", "board", "boards", "UnknownBoardError"]


class UnknownBoardError(KeyError):
    """An unknown board name; the message lists the known ones."""

    def __str__(self):
        return self.args[0]


@dataclass(frozen=True)
class SerialChip:
    """A USB-serial bridge between a board's UART and the host.

    Attributes
    ----------
    name : str
        The chip, as its maker names it.
    base_baud : float
        The rates the chip makes exactly are ``base_baud / n`` for whole ``n`` (FTDI's divisor
        also has eighths, which give odd rates; the whole divisors suffice here).
    max_baud : float
        The fastest rate the chip supports.
    source : str
        Where the figures come from.
    """

    name: str
    base_baud: float
    max_baud: float
    source: str

    def rates(self):
        """The chip's exact rates up to :attr:`max_baud`, fastest first, down to 9600 baud."""
        first = max(1, round(self.base_baud / self.max_baud))
        return [self.base_baud / n for n in range(first, int(self.base_baud // 9600) + 1)]


#: The USB-serial chips on the boards, by :attr:`Board.serial_chip`.
SERIAL_CHIPS = {chip.name: chip for chip in [
    SerialChip("FT2232H", 12e6, 12e6,
               "FTDI FT2232H data sheet (DS_FT2232H): UART at up to 12 Mbaud; rates 12 MHz / n "
               "(FTDI AN232B-05, baud rate divisors of the hi-speed chips)"),
    SerialChip("FT231X", 3e6, 3e6,
               "FTDI FT231X data sheet (DS_FT231X): UART at up to 3 Mbaud; rates 3 MHz / n "
               "(FTDI AN232B-05)"),
    SerialChip("BL702", 3e6, 3e6,
               "Sipeed's BL702 debugger firmware presents an FTDI FT2232-style JTAG + UART "
               "pair; no data sheet gives its UART limit: 3 Mbaud is the highest reported "
               "clean on a Tang Nano 9K (github.com/sipeed/TangNano-9K-example, issue 7)"),
    SerialChip("iCELink", 1e6, 1e6,
               "iCESugar's STM32 USB CDC bridge; no published UART limit: 1 Mbaud, the rate "
               "systolic has used since its first board builds"),
]}


#: What an LED can show (:attr:`Board.leds`): ``alive`` blinks at about 1 Hz and stays lit
#: while the engine is busy, ``busy`` and ``error`` are the engine's status pins, ``link`` is
#: lit while the bridge handles a request, ``rx`` and ``tx`` toggle with each byte, ``off``
#: is left dark.
LED_ROLES = ("alive", "busy", "error", "link", "rx", "tx", "off")


@dataclass(frozen=True)
class Programmer:
    """A tool that loads a bitstream onto a board: ``tool *args BITSTREAM``."""

    tool: str
    args: tuple = ()

    def __str__(self):
        return " ".join((self.tool, *self.args))


@dataclass(frozen=True)
class Buffers:
    """The engine's buffers a board's build starts from, before they are cut to the device's
    block RAM (:func:`~systolic.boards.design.fit_engine_config`): the
    :class:`~systolic.rtl.engine.config.EngineConfig` parameters other than the array."""

    k_depth: int
    m_blocks: int
    n_blocks: int
    buffer_ram: str = "block"
    buffer_latency: int = 1

    def to_dict(self):
        return dict(vars(self))


@dataclass(frozen=True)
class Board:
    """One development board: every fact a build, the reports and the programmer need.

    Attributes
    ----------
    name : str
        Short name used on the command line, e.g. ``"icebreaker"``.
    title : str
        Human-readable name.
    platform_class : str
        ``"module:Class"`` of the amaranth-boards platform.
    device : str
        Key of the FPGA in ``devices.json``.
    package : str
        FPGA package, as the platform class has it.
    oscillator : str
        Name of the platform's oscillator resource (number 0).
    osc_hz : float
        Oscillator frequency in Hz.
    default_clk_hz : float
        Main clock a build targets unless told otherwise, in Hz (one the default build meets:
        BENCHMARKS.md, "FPGA builds" and "Gowin builds").
    uart : str
        Name of the UART resource (number 0) wired to the USB-serial bridge.
    usb_serial : str
        What sits between that UART and the host.
    serial_chip : str
        That chip's :data:`SERIAL_CHIPS` key (its rates).
    leds : tuple of (str, str)
        Single-bit LED outputs as ``"resource.number"`` or ``"resource.number.subsignal"``,
        each with the :data:`LED_ROLES` role it shows, in the board's LED order.
    programmers : tuple of Programmer
        Tools that load a bitstream onto the board, in order of preference.
    array : ArrayConfig
        The array a build puts on the board unless told otherwise.
    buffers : Buffers
        The engine's buffers a build starts from, before they are cut to the block RAM.
    seed : int or None
        nextpnr placer seed of the default build; ``None`` leaves nextpnr's own.
    placer : str
        nextpnr's placer for the board's builds (:data:`~.toolchain.PLACERS`).
    notes : str
        Anything else worth knowing.
    """

    name: str
    title: str
    platform_class: str
    device: str
    package: str
    oscillator: str
    osc_hz: float
    default_clk_hz: float
    uart: str
    usb_serial: str
    serial_chip: str
    leds: tuple = ()
    programmers: tuple = ()
    array: ArrayConfig = field(default_factory=ArrayConfig)
    buffers: Buffers = field(default_factory=lambda: Buffers(k_depth=32, m_blocks=8, n_blocks=8))
    seed: int | None = None
    placer: str = "heap"
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        if self.placer not in PLACERS:
            raise ValueError(f"{self.name}: placer {self.placer!r}; known: {', '.join(PLACERS)}")
        for spec, role in self.leds:
            if role not in LED_ROLES:
                raise ValueError(f"{self.name}: LED {spec} has role {role!r}; known: "
                                 f"{', '.join(LED_ROLES)}")

    # Catalog facts --------------------------------------------------------------------------

    def facts(self):
        """Return the device's entry in ``devices.json``."""
        return catalog.device(self.device)

    @property
    def family(self):
        """FPGA family: ``"ice40"``, ``"ecp5"`` or ``"gowin"``."""
        return self.facts()["family"]

    def family_facts(self):
        """Return the family's entry in ``devices.json`` (PLL, hard multiplier, block RAM)."""
        return catalog.family(self.family)

    @property
    def pll_primitive(self):
        """The PLL primitive a clock other than the oscillator's goes through."""
        return self.family_facts()["pll"]["primitive"]

    @property
    def serial(self):
        """The :class:`SerialChip` between the board's UART and the host."""
        return SERIAL_CHIPS[self.serial_chip]

    @property
    def led_roles(self):
        """What each LED shows, in :attr:`leds` order."""
        return tuple(role for _, role in self.leds)

    @property
    def programmer(self):
        """The preferred programming command, as text (``""`` if none is known)."""
        return str(self.programmers[0]) if self.programmers else ""

    def to_dict(self):
        """Return a JSON-serializable summary with the device's resources."""
        facts = self.facts()
        return {
            "name": self.name, "title": self.title, "device": self.device,
            "family": facts["family"], "package": self.package,
            "osc_hz": self.osc_hz, "default_clk_hz": self.default_clk_hz,
            "pll": self.pll_primitive, "uart": self.uart, "usb_serial": self.usb_serial,
            "serial_max_baud": self.serial.max_baud,
            "leds": [spec for spec, _ in self.leds], "led_roles": list(self.led_roles),
            "programmer": self.programmer,
            "programmers": [[p.tool, *p.args] for p in self.programmers],
            "resources": {key: facts[key] for key in
                          ("lut", "ff", "dsp", "dsp_kind", "bram", "bram_kbit", "spram",
                           "spram_kbit")},
        }

    # Gateware -------------------------------------------------------------------------------

    def platform(self):
        """Return a new amaranth-boards platform for the board (one per build)."""
        module_name, class_name = self.platform_class.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        return cls()

    def clock_plan(self, clk_hz=None, *, max_error=0.01):
        """Return the :class:`~systolic.boards.pll.ClockPlan` for a main clock of ``clk_hz``
        (default :attr:`default_clk_hz`)."""
        from .pll import plan_clock
        return plan_clock(self.family, self.osc_hz,
                          self.default_clk_hz if clk_hz is None else clk_hz,
                          max_error=max_error, device=self.device)

    def clock_generator(self, plan=None, *, primitive=None):
        """Return a :class:`~systolic.boards.pll.ClockGenerator` that makes a clock from the
        oscillator at ``plan`` (a ClockPlan, a frequency in Hz, or the default).
        ``primitive`` picks the iCE40 PLL primitive (default ``SB_PLL40_PAD``)."""
        from .pll import ClockGenerator, ClockPlan
        if not isinstance(plan, ClockPlan):
            plan = self.clock_plan(plan)
        return ClockGenerator(plan, self.oscillator, primitive=primitive)

    def request_uart(self, m, platform):
        """Request the USB-serial UART's pins, add their buffers to ``m`` and return
        ``(rx, tx)``: the received line (an input to the design) and the line to send."""
        from amaranth.lib import io
        pins = platform.request(self.uart, 0, dir="-")
        m.submodules.uart_rx_buf = rx = io.Buffer("i", pins.rx)
        m.submodules.uart_tx_buf = tx = io.Buffer("o", pins.tx)
        return rx.i, tx.o

    def request_leds(self, m, platform):
        """Request every LED, add their buffers to ``m`` and return their drive signals
        (1 = lit; the platform handles active-low pins), in :attr:`leds` order."""
        from amaranth.lib import io
        outputs = []
        for index, (spec, _) in enumerate(self.leds):
            name, number, *sub = spec.split(".")
            port = platform.request(name, int(number), dir="-")
            for part in sub:
                port = getattr(port, part)
            m.submodules[f"led_buf_{index}"] = buf = io.Buffer("o", port)
            outputs.append(buf.o)
        return outputs


#: The engine's buffers on ECP5: block RAM read through its output register (``buffer_latency``
#: 2, DP16KD blocks instantiated with ``REGMODE_B="OUTREG"``; without it a DP16KD's data leaves
#: the block late in the cycle). Jobs of 16 row blocks and 8 column blocks (256 x 64 x 96 for
#: the 16 x 12 array): every loaded operand is used at least 8 times, so a job's loads take half
#: its passes' cycles behind the other bank's job; 64 K steps are four times the array's side,
#: so passes follow each other without a gap, and deep enough that small GEMMs run in one job.
#: The boards with less block RAM get their buffers cut to it.
_ECP5_BUFFERS = Buffers(k_depth=64, m_blocks=16, n_blocks=8, buffer_ram="block",
                        buffer_latency=2)
#: On iCE40 and Gowin: jobs of 8 row and 8 column blocks and 32 K steps, cut to the block RAM.
_SMALL_BUFFERS = Buffers(k_depth=32, m_blocks=8, n_blocks=8)

#: The LEDs of a board with six or more, in order; a board with more leaves the rest dark.
_SIX_ROLES = ("alive", "busy", "error", "link", "rx", "tx")


def _leds(specs, roles=_SIX_ROLES):
    return tuple(zip(specs, (*roles, *["off"] * (len(specs) - len(roles)))))


def _openfpgaloader(board):
    return Programmer("openFPGALoader", ("-b", board))


_ULX3S_NOTES = ("FTDI FT231X on the USB1 port; the same UART reaches the ESP32 module when "
                "one is fitted.")

#: The ULX3S array of each size fills the device's MULT18X18D blocks, one a PE: the 85F takes
#: all 156 with a pipelined 16 x 12 array, whose other 36 PEs are in logic cells. The clock the
#: default builds meet, and with which seeds: BENCHMARKS.md, "FPGA builds" and the rounds of
#: issue 17 after it.
_ULX3S_ARRAYS = {12: ArrayConfig(rows=4, cols=7), 25: ArrayConfig(rows=4, cols=7),
                 45: ArrayConfig(rows=8, cols=9), 85: ArrayConfig(rows=16, cols=12, pipeline=1)}
#: The 85F's placer seed: the one of seeds 1-3 on which the default and each shape the issue-17
#: floor names (16x12, 12x16, 16x8, 8x16, 12x12) meet 150 MHz, where nextpnr's own seed misses
#: on the default (BENCHMARKS.md, "Issue 17, fourteenth round"). The others keep nextpnr's own.
_ULX3S_SEEDS = {85: 2}


def _tang_board(name, title, platform, device, package, clk_hz, usb_serial, loader_board, array,
                notes):
    # Sipeed's Tang boards: a 27 MHz crystal, the UART through the on-board debugger (which
    # also carries JTAG), six LEDs. Two int8 PEs a DSP block (MULT9X9 halves).
    return Board(
        name=name, title=title, platform_class=f"amaranth_boards.{platform}",
        device=device, package=package, oscillator="clk27", osc_hz=27e6, default_clk_hz=clk_hz,
        uart="uart", usb_serial=usb_serial, serial_chip="BL702",
        leds=_leds(tuple(f"led.{i}" for i in range(6))),
        programmers=(_openfpgaloader(loader_board),), array=array, buffers=_SMALL_BUFFERS,
        notes=notes)


BOARDS = {b.name: b for b in [
    Board(
        name="icebreaker", title="1BitSquared iCEBreaker",
        platform_class="amaranth_boards.icebreaker:ICEBreakerPlatform",
        device="iCE40UP5K", package="SG48",
        oscillator="clk12", osc_hz=12e6, default_clk_hz=30e6,
        uart="uart", usb_serial="FTDI FT2232H (channel B)", serial_chip="FT2232H",
        leds=(("led.0", "error"), ("led.1", "alive")),              # red, green
        programmers=(Programmer("iceprog"), _openfpgaloader("ice40_generic")),
        # 16 int8 PEs on the UP5K's 8 SB_MAC16 (two a block in its dual 8 x 8 mode). The
        # engine fills most of the device and routing makes most of every path, so the clock
        # it reaches swings with the placer seed; seed 1 meets the default clock
        # (BENCHMARKS.md, "FPGA builds").
        array=ArrayConfig(rows=4, cols=4), buffers=_SMALL_BUFFERS, seed=1,
        notes="LED 0 red, LED 1 green; the 12 MHz clock is on pin 35, the PLL's pad input."),
    Board(
        name="icesugar", title="MuseLab iCESugar v1.5",
        platform_class="amaranth_boards.icesugar:ICESugarPlatform",
        device="iCE40UP5K", package="SG48",
        oscillator="clk12", osc_hz=12e6, default_clk_hz=30e6,
        uart="uart", usb_serial="iCELink (STM32 USB CDC serial)", serial_chip="iCELink",
        leds=(("led.0", "error"), ("led.1", "alive"), ("led.2", "link")),   # red, green, blue
        programmers=(Programmer("icesprog"), _openfpgaloader("icesugar")),
        array=ArrayConfig(rows=4, cols=4), buffers=_SMALL_BUFFERS,
        notes="RGB LED as led 0-2 (red, green, blue)."),
    *[Board(
        name=f"ulx3s-{size}f", title=f"Radiona ULX3S ({size}F)",
        platform_class=f"amaranth_boards.ulx3s:ULX3S_{size}F_Platform",
        device=f"LFE5U-{size}F", package="BG381",
        oscillator="clk25", osc_hz=25e6, default_clk_hz=150e6,
        uart="uart", usb_serial="FTDI FT231X", serial_chip="FT231X",
        leds=_leds(tuple(f"led.{i}" for i in range(8))),
        programmers=(_openfpgaloader("ulx3s"), Programmer("fujprog")),
        array=_ULX3S_ARRAYS[size], buffers=_ECP5_BUFFERS, seed=_ULX3S_SEEDS.get(size),
        notes=_ULX3S_NOTES) for size in (12, 25, 45, 85)],
    Board(
        name="ecpix5-85", title="LambdaConcept ECPIX-5 (85F)",
        platform_class="amaranth_boards.ecpix5:ECPIX585Platform",
        device="LFE5UM5G-85F", package="BG554",
        # The ULX3S-85F's array at a clock below the one that board meets (built once:
        # BENCHMARKS.md, "Issue 17, fourteenth round").
        oscillator="clk100", osc_hz=100e6, default_clk_hz=100e6,
        uart="uart", usb_serial="FTDI FT2232H (channel B)", serial_chip="FT2232H",
        leds=_leds(tuple(f"rgb_led.{i}.g" for i in range(4)), ("alive", "busy", "error", "link")),
        programmers=(_openfpgaloader("ecpix5"),),
        array=_ULX3S_ARRAYS[85], buffers=_ECP5_BUFFERS,
        notes="Four RGB LEDs; the green channels are used as plain LEDs."),
    # On the GW1NR-9 a 6x6 array (18 of its 20 DSP blocks) had nextpnr-himbaechel's placer
    # make no progress in a quarter of an hour; 4x6 builds and meets the rPLL's doubling of
    # the crystal. The GW2A-18 (speed grade C8) takes 6x8 (24 of 48 blocks) at four times the
    # crystal (BENCHMARKS.md, "Gowin builds").
    _tang_board("tang-nano-9k", "Sipeed Tang Nano 9K", "tang_nano_9k:TangNano9kPlatform",
                "GW1NR-9", "QN88P", 54e6, "Bouffalo BL702 (Sipeed debugger: JTAG + UART)",
                "tangnano9k", ArrayConfig(rows=4, cols=6),
                "Six LEDs; the 27 MHz crystal is on pin 52."),
    _tang_board("tang-primer-20k", "Sipeed Tang Primer 20K (with its Dock)",
                "tang_primer_20k:TangPrimer20kDockPlatform", "GW2A-18", "PG256", 108e6,
                "Sipeed debugger on the Dock (JTAG + UART)", "tangprimer20k",
                ArrayConfig(rows=6, cols=8),
                "The core board on its Dock, which carries the USB debugger and six LEDs. "
                "Docks carry a BL702 or, later ones, a BL616; the link rate is the BL702's."),
]}


def boards():
    """Return every :class:`Board`, in listing order."""
    return list(BOARDS.values())


def board(name):
    """Return the :class:`Board` called ``name``.

    Raises
    ------
    UnknownBoardError
        (a ``KeyError``) naming the known boards, if there is no such board.
    """
    if isinstance(name, Board):
        return name
    try:
        return BOARDS[name]
    except (KeyError, TypeError):
        raise UnknownBoardError(f"unknown board {name!r}; known: {', '.join(BOARDS)}") from None
