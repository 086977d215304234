"""The systolic array alone on a board: what the array reaches without the engine around it.

The engine's buffers, command decoder and host bridge set their own critical paths (block RAM
reads feeding logic, long ready chains); :class:`ArrayBench` takes them away to measure the
array by itself. A wide xorshift register makes a new operand beat (and random ``valid`` and
``last``) every cycle, so every PE input toggles and no logic is constant; the result rows are
folded into one bit through registered XOR stages (so the fold is never the critical path)
that drives an LED, so nothing is optimized away. It talks to no host.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import wiring

from ..rtl.array import SystolicArray
from ..rtl.multiplier import set_multiplier_budget
from .platforms import board as get_board
from .top_placement import multiplier_sites

__all__ = ["ArrayBench"]


def _xor_fold(m, bits, name):
    """Fold ``bits`` to one bit, four at a time (one LUT4), a register after each level."""
    level = 0
    while len(bits) > 1:
        folded = []
        for start in range(0, len(bits), 4):
            reg = Signal(name=f"{name}_l{level}_{start // 4}")
            m.d.sync += reg.eq(Cat(*bits[start:start + 4]).xor())
            folded.append(reg)
        bits, level = folded, level + 1
    return bits[0]


class ArrayBench(wiring.Component):
    """The array of ``config`` fed by a pseudo-random source, results folded into an LED.

    Parameters
    ----------
    board : Board or str
        The board (for its LEDs and the device's hard multipliers).
    config : ArrayConfig
        The array.
    clock_hz : float
        Frequency of ``sync`` (for the LED blink).
    dsp_budget : int or None
        Hard multiplier blocks the PEs may take; default the device's count.

    Attributes
    ----------
    multipliers : MultiplierBudget or None
        After elaboration: how many PEs got a hard multiplier.

    The component has no ports: it requests its LEDs.
    """

    def __init__(self, board, config, *, clock_hz, dsp_budget=None):
        self._board = get_board(board)
        self._config = config
        self._clock_hz = clock_hz
        self._dsp_budget = self._board.facts()["dsp"] if dsp_budget is None else dsp_budget
        self.multipliers = None
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        config = self._config
        if platform is not None:
            sites = multiplier_sites(self._board.device, config, self._dsp_budget)
            self.multipliers = set_multiplier_budget(platform, self._dsp_budget, sites)
        m.submodules.array = array = SystolicArray(config)

        beat = array.i_stream.payload
        width = len(beat.as_value()) + 1
        # xorshift over the whole register: each bit is the XOR of three (one LUT), a period
        # long enough for any bench; the seed only has to be non-zero.
        state = Signal(max(width, 64), init=0x9E3779B97F4A7C15)
        mixed = state ^ (state << 13)[:len(state)]
        mixed = mixed ^ (mixed >> 7)
        mixed = mixed ^ (mixed << 17)[:len(state)]
        m.d.sync += state.eq(mixed)
        m.d.comb += [
            beat.eq(state[:len(beat.as_value())]),
            array.i_stream.valid.eq(state[len(beat.as_value())]),
        ]

        result = array.o_stream.payload.as_value()
        fold = _xor_fold(m, list(Cat(result, array.o_stream.valid, array.i_stream.ready)), "fold")

        leds = self._board.request_leds(m, platform)
        heartbeat = Signal(max(1, int(self._clock_hz / 2).bit_length()))
        m.d.sync += heartbeat.eq(heartbeat + 1)
        for led, value in zip(leds, (fold, heartbeat[-1])):
            m.d.comb += led.eq(value)
        return m
