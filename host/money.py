"""Amounts of US dollars as people read them."""

import math

__all__ = ["usd", "quantity"]

#: From this amount on, dollars are written in scientific notation rather than in full.
_SCIENTIFIC = 1e15


def usd(value):
    """Format an amount of dollars: ``$1,500,000``, ``$8.96``, ``$0.0084`` or ``$2.50e+20``.

    ``None`` is ``none``; an amount too large to be finite is ``over $1.8e+308``.
    """
    if value is None:
        return "none"
    if not math.isfinite(value):
        return "over $1.8e+308" if value > 0 else "undefined"
    if abs(value) >= _SCIENTIFIC:
        return f"${value:.2e}"
    if abs(value) >= 1000:
        return f"${value:,.0f}"
    if value == 0:
        return "$0"
    if abs(value) >= 0.01:
        return f"${value:,.2f}"
    return f"${value:.2g}"


def quantity(value):
    """Format a count of units: ``375,000``, or ``2.50e+20`` from 1e15 on; ``none`` for None."""
    if value is None:
        return "none"
    if not math.isfinite(value) or abs(value) >= _SCIENTIFIC:
        return f"{value:.2e}"
    return f"{value:,.0f}"
