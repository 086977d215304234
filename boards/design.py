"""What a board build puts on a board, resolved from the board's record and the options given.

Standard library only: ``systolic boards`` and ``systolic build`` (which reports the same
defaults with ``--dry-run`` before it builds anything) call :func:`resolve_build` alike, so a
board's defaults are computed in one place from its :class:`~.platforms.Board` record and
its family's facts in ``devices.json``:

* the engine: the board's array (or the one given) in the board's buffers, cut to the
  device's block RAM less what the bridge takes (:func:`fit_engine_config`);
* the main clock, planned once (:class:`~systolic.boards.pll.ClockPlan`);
* the link: its clock (the oscillator where the family runs it apart, :func:`link_clock_hz`)
  and its rate (the fastest the board's USB-serial chip makes with margin, :func:`default_baud`);
* nextpnr's placer and its seed, and Yosys's options.
"""

import math
from dataclasses import dataclass

from ..rtl.config import overlay
from ..rtl.engine.config import EngineConfig
from ..rtl.lib.baud import MIN_DIVISOR, UARTError, baud_divisor, rate_tolerance
from .block_ram_estimate import block_rams
from .pll import ClockPlan, PLLError
from .platforms import board as get_board

__all__ = ["BRIDGE_BRAM", "LINK_RATE_MARGIN", "BuildDesign", "DesignError", "resolve_build",
           "fit_engine_config", "default_engine_config", "default_array", "default_clock_hz",
           "default_seed", "default_baud", "link_clock_hz", "synth_options"]

#: Block RAMs left to the host bridge's buffers when the engine's are sized (it takes one on
#: the iCE40 UP5K and the LFE5U-85F with its default payload size).
BRIDGE_BRAM = 2

#: The rate error a board's default link must leave the receiver to tolerate
#: (:func:`~systolic.rtl.lib.baud.rate_tolerance`): the +/-2 % of clock error the UART tests
#: hold the default rates to, and 1 % more for the host adapter's own rate error.
LINK_RATE_MARGIN = 0.03


class DesignError(ValueError):
    """A build option the board cannot take: ``parameter`` names it (``"clock_hz"`` or
    ``"baud"``), ``value`` is what was given (``None``: the board's default failed), the message
    says why."""

    def __init__(self, parameter, value, message):
        self.parameter = parameter
        self.value = value
        super().__init__(message)


def default_array(board):
    """Return the board's default :class:`~systolic.rtl.config.ArrayConfig`."""
    return get_board(board).array


def default_seed(board):
    """Return the nextpnr seed a board's build uses unless told otherwise, or ``None``."""
    return get_board(board).seed


def default_clock_hz(board):
    """Return the main clock a board's build targets unless told otherwise, in Hz."""
    return get_board(board).default_clk_hz


def fit_engine_config(config, family, bram):
    """Shrink ``config``'s buffers until their block-RAM estimate fits ``bram`` blocks.

    The larger of the operand and result buffers is halved each step: the result blocks
    (``m_blocks``, ``n_blocks``, the larger first) when the result buffer dominates, else the
    K depth. Returns the config unchanged if it already fits, and the smallest one if nothing
    does (the build then reports the overflow).
    """
    blocks = block_rams(config, family)
    while blocks["total"] > bram:
        if blocks["result"] >= blocks["a"] + blocks["b"] and max(config.m_blocks, config.n_blocks) > 1:
            if config.m_blocks >= config.n_blocks:
                change = {"m_blocks": math.ceil(config.m_blocks / 2)}
            else:
                change = {"n_blocks": math.ceil(config.n_blocks / 2)}
        elif config.k_depth > 1:
            change = {"k_depth": math.ceil(config.k_depth / 2)}
        elif max(config.m_blocks, config.n_blocks) > 1:
            change = {"m_blocks": math.ceil(config.m_blocks / 2),
                      "n_blocks": math.ceil(config.n_blocks / 2)}
        else:
            break
        config = overlay(config, **change)
        blocks = block_rams(config, family)
    return config


def default_engine_config(board, array=None, **overrides):
    """Return the :class:`EngineConfig` a build for ``board`` uses with ``array``.

    The board's :attr:`~.platforms.Board.buffers` around ``array`` (default the board's),
    cut to the device's block RAM less :data:`BRIDGE_BRAM` (:func:`fit_engine_config`; the
    family's block RAM modes are in devices.json). ``overrides`` (``k_depth``, ``m_blocks``,
    ``n_blocks``, ``word_width``, ``buffer_ram``; ``None`` for not given) are applied
    afterwards, as given. Raises :class:`~systolic.rtl.config.ConfigError` for a dataflow
    the engine lacks (:func:`~systolic.rtl.config.check_engine_dataflow`).
    """
    board = get_board(board)
    array = board.array if array is None else array
    config = fit_engine_config(EngineConfig(array=array, **board.buffers.to_dict()), board.family,
                               board.facts()["bram"] - BRIDGE_BRAM)
    return overlay(config, **overrides)


def synth_options(board):
    """Yosys ``synth_*`` options of a board build.

    Amaranth's iCE40 flow runs ``synth_ice40`` without ``-dsp``, which leaves every ``$mul`` in
    logic cells; ``-dsp`` maps the generic ``a * b`` of PEs with 9- to 16-bit operands onto
    SB_MAC16 and packs their product registers (int8 PEs instantiate the block in its 8 x 8
    mode themselves). ``synth_ecp5`` maps multipliers by default; the PEs instantiate
    MULT18X18D themselves to use its registers. ``synth_gowin`` maps for the GW1N family
    unless told the device's (``-family``, ``synth_family`` in devices.json), and infers DSP
    multipliers by default. The family's options are in devices.json.
    """
    board = get_board(board)
    options = tuple(board.family_facts()["synth_options"])
    if "synth_family" in board.facts():
        options += ("-family", board.facts()["synth_family"])
    return options


def link_clock_hz(board):
    """The clock of the UART and bridge in a build for ``board``, or None for the main one.

    On ECP5 the link runs from the oscillator, apart from the engine: an 85F's engine spreads
    over the whole die, and any path between it and the bridge would cross it. Gowin boards do
    the same, so their link keeps the 27 MHz crystal's rate whatever the engine's clock. (The
    iCE40 PLL takes the oscillator pad, and a 30 MHz engine needs no such split.) Which
    families do is ``link_from_oscillator`` in devices.json.
    """
    board = get_board(board)
    return board.osc_hz if board.family_facts()["link_from_oscillator"] else None


def _fastest_rate(board, link_hz):
    for rate in board.serial.rates():
        if link_hz / rate >= MIN_DIVISOR and rate_tolerance(link_hz / rate) >= LINK_RATE_MARGIN:
            return int(rate)
    raise ValueError(f"{board.name}: no rate of its {board.serial.name} leaves a "
                     f"{LINK_RATE_MARGIN:.0%} margin at a {link_hz / 1e6:g} MHz link clock")


def default_baud(board, clock_hz=None):
    """Return the UART rate a build for ``board`` uses unless told otherwise, in baud.

    The highest rate the board's USB-serial chip makes exactly (:class:`~.platforms.SerialChip`)
    at which the link's clock still gives the receiver :data:`LINK_RATE_MARGIN` of tolerance.
    The link runs from the oscillator (:func:`link_clock_hz`) or else from the main clock:
    ``clock_hz``, default :func:`default_clock_hz` (the achieved clock, where a PLL makes it;
    a :class:`~systolic.boards.pll.ClockPlan` is taken as it is).

    Raises
    ------
    ValueError
        If no rate of the chip leaves the margin at that clock.
    """
    board = get_board(board)
    link_hz = link_clock_hz(board)
    if link_hz is None:
        plan = clock_hz if isinstance(clock_hz, ClockPlan) else board.clock_plan(clock_hz)
        link_hz = plan.f_out
    return _fastest_rate(board, link_hz)


@dataclass(frozen=True)
class BuildDesign:
    """Everything a board build is given, resolved (:func:`resolve_build`).

    Attributes
    ----------
    board : Board
    engine : EngineConfig
        The engine (its ``array`` the array).
    plan : ClockPlan
        The main clock, planned once: the build makes it and the UART divisor uses it.
    baud : int
        The link rate.
    link_hz : float or None
        The link's own clock (the oscillator), or ``None`` when it runs from the main one.
    seed : int or None
        nextpnr placer seed.
    placer : str
        nextpnr's placer (:data:`~.toolchain.PLACERS`).
    """

    board: object
    engine: EngineConfig
    plan: ClockPlan
    baud: int
    link_hz: float | None
    seed: int | None
    placer: str

    def to_dict(self):
        """The design as ``systolic boards --json`` (``default_design``) and ``systolic build
        --dry-run --json`` report it."""
        return {"board": self.board.name, "device": self.board.device,
                "config": self.engine.array.to_dict(), "engine": self.engine.to_dict(),
                "target_mhz": self.plan.f_requested / 1e6, "clock_mhz": self.plan.f_out / 1e6,
                "baud": self.baud, "link_mhz": None if self.link_hz is None else self.link_hz / 1e6,
                "seed": self.seed, "placer": self.placer}


def resolve_build(board, *, array=None, engine_options=None, clock_hz=None, baud=None,
                  seed=None, placer=None):
    """Return the :class:`BuildDesign` of a build for ``board`` with the options given.

    Parameters
    ----------
    board : Board or str
    array : ArrayConfig or None
        The array (default the board's).
    engine_options : dict or None
        Buffer parameters that replace the board's after they are cut to the block RAM
        (``None`` values are not given).
    clock_hz, baud, seed, placer : optional
        Main clock target in Hz, link rate, placer seed, nextpnr's placer; ``None`` takes the
        board's.

    Raises
    ------
    DesignError
        If the board cannot make the clock (``parameter`` ``"clock_hz"``) or the link rate
        (``"baud"``).
    ~systolic.rtl.config.ConfigError
        If the engine options are out of range.
    """
    board = get_board(board)
    engine = default_engine_config(board, array, **(engine_options or {}))
    try:
        plan = board.clock_plan(clock_hz)
    except PLLError as exc:
        raise DesignError("clock_hz", clock_hz, str(exc)) from None
    link_hz = link_clock_hz(board)
    if baud is None:
        try:
            baud = _fastest_rate(board, link_hz or plan.f_out)
        except ValueError as exc:
            raise DesignError("baud", None, f"{exc}; give a rate") from None
    try:
        # The UART runs from the link's clock: the oscillator where it has one of its own.
        baud_divisor(link_hz or plan.f_out, baud)
    except UARTError as exc:
        raise DesignError("baud", baud, str(exc)) from None
    return BuildDesign(board=board, engine=engine, plan=plan, baud=baud, link_hz=link_hz,
                       seed=board.seed if seed is None else seed,
                       placer=board.placer if placer is None else placer)
