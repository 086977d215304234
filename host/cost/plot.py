"""The cost picture: total cost against volume, and the tornado chart, as one PNG.

Drawn with matplotlib's object API on the Agg canvas (no display, no global pyplot state) and
written atomically: a failed plot leaves no file behind.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from pathlib import Path

from ..errors import UsageError
from ..money import usd
from ..output import STDOUT, atomic_path

__all__ = ["write_cost_plot", "volume_range", "plot_format"]

_FPGA, _ASIC, _BAND = "tab:blue", "tab:orange", "tab:green"
#: Volumes beyond this many units are not plotted unless asked for with --units.
_VOLUME_MAX = 1e12
#: The tornado's right edge, beyond its largest breakeven.
_EDGE = 1.25
#: Largest value the log axes are asked to draw (the transforms square and exponentiate).
_DRAWABLE = 1e15


def _text(label):
    # A bare "$" starts matplotlib's math mode.
    return label.replace("$", r"\$")


def volume_range(result):
    """Return ``(low, high)`` volumes to plot: three decades each side of the breakeven.

    The range also covers the volumes in ``result`` and is at least 1 to 10 million units
    when there is no breakeven.
    """
    volumes = [row["units"] for row in result["volumes"]]
    breakeven = result["breakeven_units"]
    if breakeven:
        low, high = breakeven / 1e3, breakeven * 1e3
    else:
        low, high = 1.0, 1e7
    low = max(1.0, min([low, *volumes]))
    high = min(max([high, *volumes, low * 10]), max([_VOLUME_MAX, *volumes]))
    return low, high


def _check_plottable(result):
    """Refuse (``UsageError``) amounts whose totals over the plotted volumes, or whose
    breakevens, are too large to draw."""
    _, high = volume_range(result)
    edges = [row[key] for row in result["tornado"] for key in ("breakeven_low", "breakeven_high")
             if row[key] is not None]
    values = [o["nre"] + o["unit"] * high for o in (result["fpga"], result["asic"])]
    values += [v * _EDGE for v in edges + [result["breakeven_units"] or 0]]
    if not all(math.isfinite(v) and abs(v) < _DRAWABLE for v in values):
        raise UsageError("--plot: the amounts are too large to draw (totals or breakevens of "
                         f"{_DRAWABLE:.0e} or more); the text and --json still show them")


def _breakeven_band(result):
    """Return the lowest and highest breakeven of the tornado (``inf`` where one disappears)."""
    values = []
    for row in result["tornado"]:
        for key in ("breakeven_low", "breakeven_high"):
            values.append(math.inf if row[key] is None else row[key])
    positive = [v for v in values if v > 0]
    if not positive or not math.isfinite(min(positive)):
        return None      # no breakeven anywhere in the tornado: no band to draw
    return min(positive), max(positive)


def _cost_axes(ax, result):
    low, high = volume_range(result)
    volume = np.geomspace(low, high, 400)
    fpga, asic = result["fpga"], result["asic"]
    ax.plot(volume, fpga["nre"] + fpga["unit"] * volume, color=_FPGA,
            label=f"FPGA: {_text(usd(fpga['nre']))} + {_text(usd(fpga['unit']))}/unit")
    ax.plot(volume, asic["nre"] + asic["unit"] * volume, color=_ASIC,
            label=f"ASIC: {_text(usd(asic['nre']))} + {_text(usd(asic['unit']))}/unit")
    band = _breakeven_band(result)
    if band:
        left, right = max(band[0], low), min(band[1], high)
        if left < right:
            pct = f"{result['sensitivity']:.0%}"
            ax.axvspan(left, right, color=_BAND, alpha=0.15,
                       label=f"breakeven with one input moved +/-{pct}")
    breakeven = result["breakeven_units"]
    if breakeven:
        total = fpga["nre"] + fpga["unit"] * breakeven
        ax.axvline(breakeven, color="black", linestyle="--", linewidth=1)
        ax.plot([breakeven], [total], marker="o", color="black",
                label=f"breakeven: {breakeven:,.0f} units")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_xlabel("volume (units)")
    ax.set_ylabel("total cost (USD)")
    ax.set_title(result["verdict"].split(":")[0] if breakeven is None else "Total cost against volume")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small")


def _tornado_axes(ax, result):
    base = result["breakeven_units"]
    rows = [r for r in result["tornado"]][::-1]
    ax.set_title(f"Breakeven when one input moves +/-{result['sensitivity']:.0%}")
    if not base or not rows:
        ax.text(0.5, 0.5, "no breakeven to move", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    finite = [v for r in rows for v in (r["breakeven_low"], r["breakeven_high"]) if v is not None]
    edge = max([*finite, base]) * _EDGE
    for y, row in enumerate(rows):
        for key, color in (("breakeven_low", _FPGA), ("breakeven_high", _ASIC)):
            value = row[key]
            end = edge if value is None else value
            ax.barh(y, end - base, left=base, color=color, alpha=0.8,
                    hatch=None if value is not None else "//")
    ax.axvline(base, color="black", linewidth=1)
    ax.set_yticks(range(len(rows)), [r["input"] for r in rows], fontsize="small")
    ax.set_xlim(0, edge)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
    ax.tick_params(axis="x", labelsize="small", labelrotation=30)
    pct = f"{result['sensitivity']:.0%}"
    ax.set_xlabel(f"breakeven volume (units), now {base:,.0f}\n"
                  f"blue: input -{pct}, orange: +{pct}, hatched: none")


def plot_format(path, option="--plot"):
    """Return the image format a plot path's suffix names (``png`` for ``-``).

    Raises
    ------
    UsageError
        For a suffix matplotlib cannot write, naming the ones it can.
    """
    if str(path) == STDOUT:
        return "png"
    suffix = Path(str(path)).suffix.lower().lstrip(".")
    formats = FigureCanvasAgg(Figure()).get_supported_filetypes()
    if suffix in formats:
        return suffix
    known = ", ".join("." + f for f in sorted(formats))
    raise UsageError(f"{option} {path}: the suffix names no image format this plot can be "
                     f"written in; use one of {known}")


def write_cost_plot(path, result):
    """Write the cost picture of an :func:`~systolic.host.cost.analyse` result.

    Parameters
    ----------
    path : str or Path or Output
        Destination; written atomically, in the format its suffix names (:func:`plot_format`).
    result : dict
        The analysis to draw.
    """
    _check_plottable(result)
    figure = Figure(figsize=(12, 5), layout="constrained")
    FigureCanvasAgg(figure)
    cost_ax, tornado_ax = figure.subplots(1, 2, width_ratios=(3, 2))
    _cost_axes(cost_ax, result)
    _tornado_axes(tornado_ax, result)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=plot_format(path), dpi=100)
