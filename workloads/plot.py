"""The per-layer picture of a workload report: cycles and efficiency, layer by layer (PNG)."""

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..host.output import atomic_path

__all__ = ["write_layer_plot"]


def write_layer_plot(path, report):
    """Write a PNG of :func:`~.report.network_report`'s layers: total cycles (log scale) above,
    efficiency (with loads, without, and the tile mapping's) below.

    Parameters
    ----------
    path : str or Path
        Destination; written atomically (PNG whatever the suffix).
    report : dict
        From :func:`~.report.network_report`.
    """
    layers = report["layers"]
    ids = [row["layer_id"] for row in layers]
    width = min(40, max(8, 0.18 * len(layers) + 4))
    figure = Figure(figsize=(width, 7), layout="constrained")
    FigureCanvasAgg(figure)
    cycles_ax, efficiency_ax = figure.subplots(2, 1, sharex=True)
    totals = report["totals"]
    cycles_ax.bar(ids, [row["total_cycles"] for row in layers], color="tab:blue",
                  label="total cycles (first load included)")
    cycles_ax.bar(ids, [row["ideal_cycles"] for row in layers], color="tab:orange", alpha=0.7,
                  label="ideal cycles (M*N*K / (R*C))")
    cycles_ax.set_yscale("log")
    cycles_ax.set_ylabel("cycles")
    cycles_ax.legend(loc="upper right", fontsize="small")
    clock = report.get("clock_hz")
    rate = (f"; {totals['inferences_per_s']:,.4g} inferences/s at {clock / 1e6:g} MHz"
            if clock else "")
    cycles_ax.set_title(f"{report['network']} ({report['form']}), batch {report['batch']}: "
                        f"{len(layers)} layers, {totals['macs']:,} MACs, "
                        f"{totals['total_cycles']:,} cycles{rate}\n{report['design']}",
                        fontsize="medium")
    efficiency_ax.plot(ids, [row["sustained_efficiency"] for row in layers], "o-",
                       color="tab:blue", markersize=3, label="sustained (loads included)")
    efficiency_ax.plot(ids, [row["efficiency"] for row in layers], "s--", color="tab:green",
                       markersize=3, label="from the first START")
    efficiency_ax.plot(ids, [row["mapping_efficiency"] for row in layers], ":",
                       color="tab:gray", label="tile mapping")
    efficiency_ax.set_ylim(0, 1.05)
    efficiency_ax.set_ylabel("efficiency (ideal / cycles)")
    efficiency_ax.set_xlabel("layer")
    efficiency_ax.legend(loc="upper right", fontsize="small")
    if len(layers) <= 60:
        efficiency_ax.set_xticks(ids, [row["name"] for row in layers], rotation=90,
                                 fontsize="x-small")
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
