"""Board tops: the GEMM engine on each board, with its clock, UART link and status LEDs.

:class:`BoardTop` is the design :func:`~systolic.boards.top_build.build_board` hands to
:func:`~systolic.boards.build.build`, which wraps it in the board's clock generator (oscillator
-> PLL -> ``sync`` at the chosen frequency, with a reset held until the PLL locks). The top
requests the USB-serial UART and the LEDs, puts the core (the engine behind its UART bridge)
between them, and gives the platform the device's hard-multiplier budget, so that the first PEs
take the DSP blocks and the rest multiply in logic cells (:mod:`systolic.rtl.multiplier`).

What a board's build holds unless told otherwise (its array, its buffers cut to the block RAM,
its clock, link rate and seed) is in the board's record (:mod:`.platforms`) and resolved by
:mod:`.design`; the functions re-exported here from there (:func:`default_baud`,
:func:`default_clock_hz`, ...) keep the names scripts import.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer

from ..rtl.multiplier import set_multiplier_budget
from ..rtl.protocol import DEFAULT_BAUD
from .design import (BRIDGE_BRAM, LINK_RATE_MARGIN, default_array, default_baud,  # noqa: F401
                     default_clock_hz, default_engine_config, default_seed, fit_engine_config,
                     link_clock_hz, synth_options)
from .platforms import board as get_board
from .top_placement import multiplier_sites

__all__ = ["BoardTop", "core_factory", "default_array", "default_baud", "default_clock_hz",
           "default_engine_config", "default_seed", "fit_engine_config", "link_clock_hz",
           "synth_options", "LINK_RATE_MARGIN", "BRIDGE_BRAM"]


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
        for led, role in zip(leds, self._board.led_roles):
            if role != "off":
                # Registered: the engine's status is deep logic, and the path on to the pad
                # would otherwise set the clock. A cycle late is nothing to an eye.
                m.d.sync += led.eq(roles[role])
        return m
