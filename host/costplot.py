"""The cost picture: total cost against volume, and the tornado chart, as one PNG.

Drawn with matplotlib's object API on the Agg canvas (no display, no global pyplot state) and
written atomically: a failed plot leaves no file behind.
"""

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .output import atomic_path

__all__ = ["write_cost_plot", "volume_range"]

_FPGA, _ASIC, _BAND = "tab:blue", "tab:orange", "tab:green"


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
    high = max([high, *volumes, low * 10])
    return low, high


def _breakeven_band(result):
    """Return the lowest and highest breakeven of the tornado (``inf`` where one disappears)."""
    values = []
    for row in result["tornado"]:
        for key in ("breakeven_low", "breakeven_high"):
            values.append(math.inf if row[key] is None else row[key])
    finite = [v for v in values if v > 0]
    if not finite:
        return None
    return min(finite), max(finite)


def _cost_axes(ax, result):
    low, high = volume_range(result)
    volume = np.geomspace(low, high, 400)
    fpga, asic = result["fpga"], result["asic"]
    ax.plot(volume, fpga["nre"] + fpga["unit"] * volume, color=_FPGA,
            label=rf"FPGA: \${fpga['nre']:,.0f} + \${fpga['unit']:,.2f}/unit")
    ax.plot(volume, asic["nre"] + asic["unit"] * volume, color=_ASIC,
            label=rf"ASIC: \${asic['nre']:,.0f} + \${asic['unit']:,.2f}/unit")
    band = _breakeven_band(result)
    if band:
        left, right = max(band[0], low), min(band[1], high)
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
    edge = max([*finite, base]) * 1.25
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


def write_cost_plot(path, result):
    """Write the cost picture of an :func:`~systolic.host.cost.analyse` result as a PNG.

    Parameters
    ----------
    path : str or Path
        Destination; written atomically (PNG whatever the suffix).
    result : dict
        The analysis to draw.
    """
    figure = Figure(figsize=(12, 5), layout="constrained")
    FigureCanvasAgg(figure)
    cost_ax, tornado_ax = figure.subplots(1, 2, width_ratios=(3, 2))
    _cost_axes(cost_ax, result)
    _tornado_axes(tornado_ax, result)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
