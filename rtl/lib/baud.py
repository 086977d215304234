"""UART bit timing as arithmetic: divisors, rates and the receiver's tolerance.

Standard library only, so the board defaults (:mod:`systolic.boards.design`) choose and check a
link rate without Amaranth; the gateware is :mod:`.uart`.
"""

import math
from fractions import Fraction
from numbers import Rational

from ..protocol import DEFAULT_BAUD

__all__ = ["UARTError", "baud_divisor", "check_divisor", "rate_tolerance", "MIN_DIVISOR",
           "MAX_DIVISOR", "MAX_DENOMINATOR"]

#: Fewest clock cycles per bit. The receiver samples once per bit at the middle; below four
#: cycles a bit, the one-cycle uncertainty of the start-edge detection eats the whole margin.
MIN_DIVISOR = 4
#: Most clock cycles per bit (a 2**24 divisor is 6 baud at 100 MHz).
MAX_DIVISOR = 1 << 24
#: Largest denominator kept when a float divisor is turned into a fraction: finer than the
#: rate error of any crystal, and it keeps the phase accumulator a few bits wide.
MAX_DENOMINATOR = 1 << 12


class UARTError(ValueError):
    """A UART parameter (divisor, clock or baud rate) is out of range."""


def check_divisor(divisor):
    """Return ``divisor`` (clock cycles per bit) as a validated :class:`~fractions.Fraction`.

    Parameters
    ----------
    divisor : int, Fraction or float
        Clock cycles per bit, from :data:`MIN_DIVISOR` to :data:`MAX_DIVISOR`. A float is
        approximated by the nearest fraction with a denominator up to :data:`MAX_DENOMINATOR`.

    Raises
    ------
    UARTError
        If the divisor is not a finite number in range.
    """
    if isinstance(divisor, bool):
        raise UARTError(f"divisor={divisor!r} is invalid: must be a number of clock cycles per bit")
    if isinstance(divisor, Rational):
        value = Fraction(divisor)
    elif isinstance(divisor, float):
        if not math.isfinite(divisor):
            raise UARTError(f"divisor={divisor!r} is invalid: must be finite")
        value = Fraction(divisor).limit_denominator(MAX_DENOMINATOR)
    else:
        raise UARTError(f"divisor={divisor!r} is invalid: must be an int, a Fraction or a float")
    if not MIN_DIVISOR <= value <= MAX_DIVISOR:
        raise UARTError(f"divisor={divisor!r} is invalid: must be from {MIN_DIVISOR} to "
                        f"{MAX_DIVISOR} clock cycles per bit (clock / baud)")
    return value


def baud_divisor(clk_hz, baud=DEFAULT_BAUD):
    """Return the exact divisor ``clk_hz / baud`` as a :class:`~fractions.Fraction`.

    Raises
    ------
    UARTError
        If either rate is not positive, or the clock is too slow for the baud rate.
    """
    for name, value in (("clk_hz", clk_hz), ("baud", baud)):
        if isinstance(value, bool) or not isinstance(value, (int, float, Fraction)) \
                or not math.isfinite(value) or value <= 0:
            raise UARTError(f"{name}={value!r} is invalid: must be a positive number")
    divisor = (Fraction(clk_hz) / Fraction(baud)).limit_denominator(MAX_DENOMINATOR)
    if divisor < MIN_DIVISOR:
        raise UARTError(f"baud={baud!r} is invalid: a {clk_hz / 1e6:g} MHz clock gives "
                        f"{float(divisor):.2f} cycles a bit, fewer than {MIN_DIVISOR}; the highest "
                        f"rate is {clk_hz / MIN_DIVISOR:.0f} baud")
    return check_divisor(divisor)


def rate_tolerance(divisor):
    """Return the rate difference :class:`~.uart.UARTReceiver` tolerates at ``divisor`` cycles a bit.

    The receiver samples each bit once, at its middle as timed from the detected start edge;
    the edge is seen up to 1.5 cycles late (the two-flop synchronizer and the cycle it falls
    in), and the stop bit, 9.5 bits on, must still be sampled inside itself, so the sender's
    rate may differ by ``(divisor / 2 - 1.5) / (9.5 * divisor)`` either way: 3.2 % at 7.5
    cycles a bit, 3.4 % at 8.33, 3.9 % at 12.
    """
    divisor = float(check_divisor(divisor))
    return (divisor / 2 - 1.5) / (9.5 * divisor)
