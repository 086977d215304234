"""Numbers on the command line: one parser and one range check for every numeric option.

``argparse`` calls the types below with the option's text; a value that is not a number, or is
out of range, becomes argparse's one-line error naming the option and the allowed range (exit
status 2), before any work starts.
"""

import argparse
import math

__all__ = ["parse_number", "number_type", "count_type", "SEED_MAX", "seed_type"]

_SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9}

#: Largest random seed (numpy takes any non-negative integer; 64 bits is plenty).
SEED_MAX = (1 << 64) - 1


def parse_number(text):
    """Parse ``1500000``, ``1,500,000``, ``$1.5M``, ``1.5e6`` or ``375k``; ``None`` if it is
    not a finite number."""
    cleaned = str(text).strip().lstrip("$").replace(",", "").replace("_", "")
    scale = 1
    if cleaned[-1:].lower() in _SUFFIXES and cleaned[:-1]:
        scale, cleaned = _SUFFIXES[cleaned[-1].lower()], cleaned[:-1]
    try:
        try:
            value = int(cleaned) * scale      # exact for whole numbers of any size
        except ValueError:
            value = float(cleaned) * scale
    except (ValueError, OverflowError):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _span(lo, hi, lo_open, hi_open):
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    return f"{left}{'' if lo is None else f'{lo:,}'}, {'' if hi is None else f'{hi:,}'}{right}"


def number_type(what, lo=None, hi=None, *, lo_open=False, hi_open=False, integer=False):
    """Return an argparse type for a number in a range (``None`` bounds are open-ended).

    Parameters
    ----------
    what : str
        What the number is, for the message ("a number of seconds").
    lo, hi : float, optional
        Bounds, included unless ``lo_open`` / ``hi_open``.
    integer : bool
        Whether the value must be whole (it is returned as an ``int``).
    """
    span = _span(lo, hi, lo_open, hi_open)

    def parse(text):
        value = parse_number(text)
        ok = value is not None
        if ok and integer:
            ok = value == int(value)
            value = int(value) if ok else value
        if ok and lo is not None:
            ok = value > lo if lo_open else value >= lo
        if ok and hi is not None:
            ok = value < hi if hi_open else value <= hi
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {what} in {span}; got {text!r}")
        return value
    parse.__name__ = what      # argparse names the type in some messages
    return parse


def count_type(lo, hi, what="a whole number"):
    """Return an argparse type for a whole number from ``lo`` to ``hi``."""
    return number_type(what, lo, hi, integer=True)


#: The argparse type of every ``--seed``.
seed_type = count_type(0, SEED_MAX, "a whole number")
