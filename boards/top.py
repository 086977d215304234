"""Board tops: the GEMM engine on each board, with its clock, UART link and status LEDs.

:class:`BoardTop` is the design :func:`build_board` hands to :func:`~systolic.boards.build.build`,
which wraps it in the board's clock generator (oscillator -> PLL -> ``sync`` at the chosen
frequency, with a reset held until the PLL locks). The top requests the USB-serial UART and
the LEDs, puts the core (the engine behind its UART bridge) between them, and gives the
platform the device's hard-multiplier budget, so that the first PEs take the DSP blocks and
the rest multiply in logic cells (:mod:`systolic.rtl.multiplier`).

:data:`BOARD_DEFAULTS` sizes the engine for each device: the array fills the hard multipliers;
the buffers are cut to the block RAM on iCE40 and are small distributed RAM on ECP5
(:func:`default_engine_config`).
"""

import math
from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer

from ..rtl.config import ArrayConfig
from ..rtl.engine.config import EngineConfig
from ..rtl.multiplier import set_multiplier_budget
from ..rtl.lib.uart import MIN_DIVISOR, rate_tolerance
from ..rtl.protocol import DEFAULT_BAUD
from . import catalog
from .platforms import board as get_board
from .top_placement import multiplier_sites

__all__ = ["BoardDefaults", "BOARD_DEFAULTS", "ECP5_BUFFERS", "LED_ROLES", "BoardTop", "default_array",
           "link_clock_hz", "default_baud", "LINK_RATE_MARGIN", "BLOCK_RAM_MODEL",
           "default_engine_config", "default_clock_hz", "default_seed", "fit_engine_config", "synth_options",
           "core_factory"]


@dataclass(frozen=True)
class BoardDefaults:
    """What ``systolic build --board NAME`` builds when not told otherwise.

    Attributes
    ----------
    rows, cols : int
        Array shape (int8 signed operands, the ArrayConfig defaults otherwise).
    clock_hz : float or None
        Main clock target; ``None`` takes the board's ``default_clk_hz``.
    pipeline : int
        ``ArrayConfig.pipeline`` of the default array.
    seed : int or None
        nextpnr placer seed of the default build; ``None`` leaves nextpnr's own.
    """

    rows: int
    cols: int
    clock_hz: float | None = None
    pipeline: int = 0
    seed: int | None = None


#: Per board: the array fills the device's hard multipliers (iCE40 UP5K: 8 SB_MAC16, two int8
#: PEs a block in its dual 8 x 8 mode; ECP5: one MULT18X18D a PE), at a clock the
#: default build meets (see BENCHMARKS.md, "FPGA builds"). The LFE5U-85F boards take 128 of
#: the 156 MULT18X18D with a pipelined 8 x 16 array (alone it routes at 212 MHz); the engine
#: around it limits the clock: the ULX3S-85F's default build at 150 MHz reaches 154.9 MHz with
#: nextpnr's own seed (seeds 1 and 2: 121.5 and 156.6 MHz; BENCHMARKS.md, "The tile step
#: decided from flip-flops"). The ECPIX-5, not built here, keeps 100 MHz.
BOARD_DEFAULTS = {
    # The engine fills 80 % of the UP5K (89 % before its buffers lost Yosys's read-first
    # logic, when seed 1 could fail to place at all), and routing makes most of every path: the
    # clock it reaches swings by 10 % with the placer seed (BENCHMARKS.md). Seed 1 meets 30 MHz.
    "icebreaker": BoardDefaults(4, 4, seed=1),
    "icesugar":   BoardDefaults(4, 4),
    "ulx3s-12f":  BoardDefaults(4, 7),
    "ulx3s-25f":  BoardDefaults(4, 7),
    "ulx3s-45f":  BoardDefaults(8, 9),
    "ulx3s-85f":  BoardDefaults(8, 16, clock_hz=150e6, pipeline=1),
    "ecpix5-85":  BoardDefaults(8, 16, clock_hz=100e6, pipeline=1),
    # Gowin: two int8 PEs a DSP block (MULT9X9 halves). On the GW1NR-9 a 6x6 array (18 of
    # its 20 blocks) had nextpnr-himbaechel's placer make no progress in a quarter of an hour;
    # 4x6 builds and meets 54 MHz. The GW2A-18 (speed grade C8) takes 6x8 (24 of 48 blocks)
    # at 108 MHz (BENCHMARKS.md, "Gowin builds"). The clocks are the boards' default_clk_hz.
    "tang-nano-9k":    BoardDefaults(4, 6),
    "tang-primer-20k": BoardDefaults(6, 8),
}

#: What each LED shows, in the board's LED order (``Board.leds``): ``alive`` blinks at about
#: 1 Hz and stays lit while the engine is busy, ``busy`` and ``error`` are the engine's status
#: pins, ``link`` is lit while the bridge handles a request, ``rx`` and ``tx`` toggle with each
#: byte. Boards whose first LED is red show errors on it.
LED_ROLES = {
    "icebreaker": ("error", "alive"),                 # red, green
    "icesugar":   ("error", "alive", "link"),         # red, green, blue
    "ecpix5-85":  ("alive", "busy", "error", "link"),
}
_DEFAULT_LED_ROLES = ("alive", "busy", "error", "link", "rx", "tx")


#: Block RAMs left to the host bridge's buffers when the engine's are sized (it takes one on
#: the iCE40 UP5K and the LFE5U-85F with its default payload size).
BRIDGE_BRAM = 2


#: The engine's buffers on ECP5: block RAM read through its output register (``buffer_latency``
#: 2, DP16KD blocks instantiated with ``REGMODE_B="OUTREG"``; without it a DP16KD's data leaves
#: the block late in the cycle). Jobs of 16 row blocks and 8 column blocks (128 x 64 x 128 for
#: the 8 x 16 array): every loaded operand is used at least 8 times, so a job's loads take half
#: its passes' cycles behind the other bank's job; 64 K steps are four times the array's side,
#: so passes follow each other without a gap, and deep enough that small GEMMs run in one job.
#: The boards with less block RAM get their buffers cut to it (:func:`fit_engine_config`).
ECP5_BUFFERS = {"buffer_ram": "block", "buffer_latency": 2, "k_depth": 64, "m_blocks": 16,
                "n_blocks": 8}


#: The family whose block RAM modes size a family's buffers (EngineConfig.block_rams).
BLOCK_RAM_MODEL = {"ice40": "ice40", "ecp5": "ecp5", "gowin": "ecp5"}


def default_array(board):
    """Return the board's default :class:`ArrayConfig` (see :data:`BOARD_DEFAULTS`)."""
    board = get_board(board)
    d = BOARD_DEFAULTS[board.name]
    return ArrayConfig(rows=d.rows, cols=d.cols, pipeline=d.pipeline)


def default_seed(board):
    """Return the nextpnr seed a board's build uses unless told otherwise, or ``None``."""
    return BOARD_DEFAULTS[get_board(board).name].seed


def default_clock_hz(board):
    """Return the main clock a board's build targets unless told otherwise, in Hz."""
    board = get_board(board)
    d = BOARD_DEFAULTS[board.name]
    return board.default_clk_hz if d.clock_hz is None else d.clock_hz


def fit_engine_config(config, family, bram):
    """Shrink ``config``'s buffers until their block-RAM estimate fits ``bram`` blocks.

    The larger of the operand and result buffers is halved each step: the result blocks
    (``m_blocks``, ``n_blocks``, the larger first) when the result buffer dominates, else the
    K depth. Returns the config unchanged if it already fits, and the smallest one if nothing
    does (the build then reports the overflow).
    """
    while config.block_rams(family)["total"] > bram:
        blocks = config.block_rams(family)
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
        config = EngineConfig.from_dict({**config.to_dict(), **change})
    return config


def default_engine_config(board, array=None, **overrides):
    """Return the :class:`EngineConfig` a build for ``board`` uses with ``array``.

    On iCE40 and Gowin jobs of 8 row and 8 column blocks and 32 K steps, on ECP5
    :data:`ECP5_BUFFERS`, either cut to the device's block RAM less :data:`BRIDGE_BRAM`
    (:func:`fit_engine_config`; a Gowin B-SRAM has the 18 kbit and the aspect ratios of an
    ECP5 DP16KD, so it is sized as one).
    ``overrides`` (``k_depth``, ``m_blocks``, ``n_blocks``, ``word_width``, ``buffer_ram``)
    are applied afterwards, as given.
    """
    board = get_board(board)
    array = default_array(board) if array is None else array
    start = ECP5_BUFFERS if board.family == "ecp5" else {"k_depth": 32, "m_blocks": 8,
                                                         "n_blocks": 8}
    config = fit_engine_config(EngineConfig(array=array, **start), BLOCK_RAM_MODEL[board.family],
                               board.facts()["bram"] - BRIDGE_BRAM)
    if overrides:
        config = EngineConfig.from_dict({**config.to_dict(), **overrides})
    return config


def synth_options(board):
    """Yosys ``synth_*`` options of a board build.

    Amaranth's iCE40 flow runs ``synth_ice40`` without ``-dsp``, which leaves every ``$mul`` in
    logic cells; ``-dsp`` maps the generic ``a * b`` of PEs with 9- to 16-bit operands onto
    SB_MAC16 and packs their product registers (int8 PEs instantiate the block in its 8 x 8
    mode themselves). ``synth_ecp5`` maps multipliers by default; the PEs instantiate
    MULT18X18D themselves to use its registers. ``synth_gowin`` maps for the GW1N family
    unless told the device's (``-family``, ``synth_family`` in devices.json), and infers DSP
    multipliers by default.
    """
    board = get_board(board)
    if board.family == "gowin":
        return ("-family", board.facts()["synth_family"])
    return ("-dsp",) if board.family == "ice40" else ()


def link_clock_hz(board):
    """The clock of the UART and bridge in a build for ``board``, or None for the main one.

    On ECP5 the link runs from the oscillator, apart from the engine: an 85F's engine spreads
    over the whole die, and any path between it and the bridge would cross it. Gowin boards do
    the same, so their link keeps the 27 MHz crystal's rate whatever the engine's clock. (The
    iCE40 PLL takes the oscillator pad, and a 30 MHz engine needs no such split.)
    """
    board = get_board(board)
    return board.osc_hz if board.family in ("ecp5", "gowin") else None


#: The rate error a board's default link must leave the receiver to tolerate
#: (:func:`~systolic.rtl.lib.uart.rate_tolerance`): the +/-2 % of clock error the UART tests hold
#: the default rates to, and 1 % more for the host adapter's own rate error.
LINK_RATE_MARGIN = 0.03


def default_baud(board, clock_hz=None):
    """Return the UART rate a build for ``board`` uses unless told otherwise, in baud.

    The highest rate the board's USB-serial chip makes exactly (:class:`~.platforms.SerialChip`)
    at which the link's clock still gives the receiver :data:`LINK_RATE_MARGIN` of tolerance.
    The link runs from the oscillator (:func:`link_clock_hz`) or else from the main clock:
    ``clock_hz``, default :func:`default_clock_hz` (the achieved clock, where a PLL makes it).

    Raises
    ------
    ValueError
        If no rate of the chip leaves the margin at that clock.
    """
    board = get_board(board)
    link_hz = link_clock_hz(board)
    if link_hz is None:
        link_hz = board.clock_plan(clock_hz if clock_hz is not None
                                   else default_clock_hz(board)).f_out
    for rate in board.serial.rates():
        if link_hz / rate >= MIN_DIVISOR and rate_tolerance(link_hz / rate) >= LINK_RATE_MARGIN:
            return int(rate)
    raise ValueError(f"{board.name}: no rate of its {board.serial.name} leaves a "
                     f"{LINK_RATE_MARGIN:.0%} margin at a {link_hz / 1e6:g} MHz link clock")


def core_factory():
    """Return the class of the board core: the protocol bridge and the engine behind a UART
    (:class:`~systolic.rtl.board_core.BoardCore`)."""
    from ..rtl.board_core import BoardCore
    return BoardCore


class BoardTop(wiring.Component):
    """The GEMM engine on a board: UART to the host, status on the LEDs.

    It runs in the ``sync`` domain that :func:`~systolic.boards.build.build` drives from the
    board's PLL, and requests its pins itself.

    Parameters
    ----------
    board : Board or str
        The board.
    engine_config : EngineConfig
        The engine.
    clock_hz : float
        Frequency of ``sync`` (the achieved clock: the UART divisor and the LED blink use it).
    baud : int
        UART rate.
    dsp_budget : int or None
        Hard multiplier blocks the PEs may take; ``None`` takes the device's count from
        ``devices.json``.
    link_clock_hz : float or None
        Run the UART and the bridge in a ``link`` domain of this frequency (which the build
        defines, see :func:`~systolic.boards.build.build`), apart from the engine; ``None``
        runs everything in ``sync``.

    Attributes
    ----------
    multipliers : MultiplierBudget or None
        After elaboration: how many PEs got a hard multiplier and how many did not.

    The component has no ports.
    """

    def __init__(self, board, engine_config, *, clock_hz, baud=DEFAULT_BAUD, dsp_budget=None,
                 link_clock_hz=None):
        self._board = get_board(board)
        self._config = engine_config
        self._clock_hz = clock_hz
        self._baud = baud
        self._dsp_budget = self._board.facts()["dsp"] if dsp_budget is None else dsp_budget
        self._core = core_factory()(engine_config, clock_hz=clock_hz, baud=baud,
                                    link_clock_hz=link_clock_hz)
        self.multipliers = None
        super().__init__({})

    @property
    def core(self):
        return self._core

    def elaborate(self, platform):
        m = Module()
        if platform is not None:
            # Before the engine's PEs are elaborated (after this method returns).
            sites = multiplier_sites(self._board.device, self._config.array, self._dsp_budget)
            self.multipliers = set_multiplier_budget(platform, self._dsp_budget, sites)
        m.submodules.core = core = self._core

        rx_line, tx_line = self._board.request_uart(m, platform)
        m.d.comb += [core.rx.eq(rx_line), tx_line.eq(core.tx)]

        heartbeat = Signal(max(1, int(self._clock_hz / 2).bit_length()))
        m.d.sync += heartbeat.eq(heartbeat + 1)
        rx_seen = Signal()
        tx_seen = Signal()
        # A byte starts with a falling edge of the line: toggle on each, in the UART's domain.
        # The received line is asynchronous to every clock (the core synchronizes its own copy).
        uart = "sync" if core.link_clock_hz is None else "link"
        rx_sync = Signal(init=1)
        m.submodules.rx_led_sync = FFSynchronizer(rx_line, rx_sync, init=1, o_domain=uart)
        rx_prev = Signal(init=1)
        tx_prev = Signal(init=1)
        m.d[uart] += [rx_prev.eq(rx_sync), tx_prev.eq(core.tx)]
        with m.If(rx_prev & ~rx_sync):
            m.d[uart] += rx_seen.eq(~rx_seen)
        with m.If(tx_prev & ~core.tx):
            m.d[uart] += tx_seen.eq(~tx_seen)
        roles = {
            "alive": heartbeat[-1] | core.status.busy,
            "busy": core.status.busy,
            "error": core.status.error,
            "link": core.status.link,
            "rx": rx_seen,
            "tx": tx_seen,
        }
        leds = self._board.request_leds(m, platform)
        for led, role in zip(leds, LED_ROLES.get(self._board.name, _DEFAULT_LED_ROLES)):
            # Registered: the engine's status is deep logic, and the path on to the pad would
            # otherwise set the clock. A cycle late is nothing to an eye.
            m.d.sync += led.eq(roles[role])
        return m
