"""Throughput beside references: peak operations per second (``2 * MACs * f``: one
multiply-accumulate is two operations), per dollar and per watt, for this project's design and
the reference accelerators of ``cost_data.json`` (A100, H100, TPU v4, TPU v1, with their
sources)."""

from . import cost

__all__ = ["peak_ops_per_s", "throughput_row", "design_row", "report", "format_ops"]


def peak_ops_per_s(macs, clock_mhz):
    """Return the peak operations per second of ``macs`` MAC units at ``clock_mhz``.

    Examples
    --------
    >>> peak_ops_per_s(256 * 256, 700) / 1e12
    91.7504
    """
    return 2 * macs * clock_mhz * 1e6


def throughput_row(name, peak, *, price_usd=None, power_w=None, **extra):
    """Return one comparison row: peak ops/s, ops/s per dollar and per watt (``None`` if unknown)."""
    row = {"name": name, "peak_ops_per_s": peak, "price_usd": price_usd, "power_w": power_w,
           "ops_per_s_per_usd": peak / price_usd if price_usd else None,
           "ops_per_s_per_w": peak / power_w if power_w else None}
    row.update(extra)
    return row


def design_row(*, macs, clock_mhz, clock_source, price_usd=None, price_source=None,
               power_w=None, device=None, config=None):
    """Return the comparison row of this project's design."""
    name = "this design"
    if config is not None:
        kind = "int" if config.signed else "uint"
        widths = (f"{kind}{config.a_width}" if config.a_width == config.b_width
                  else f"{kind}{config.a_width}x{config.b_width}")
        name = f"this design: {config.rows}x{config.cols} {widths}"
    return throughput_row(
        name, peak_ops_per_s(macs, clock_mhz), price_usd=price_usd, power_w=power_w,
        macs=macs, clock_mhz=clock_mhz, clock_source=clock_source, device=device,
        price_source=price_source,
        power_source="command line (--power)" if power_w else "not given (--power W)",
        config=None if config is None else config.to_dict(),
        source=f"2 x {macs:,} MACs x {clock_mhz:g} MHz")


def report(row, data=None):
    """Return the report: the design row and the reference rows from the data file."""
    data = data or cost.load_cost_data()
    references = []
    for ref in data["accelerators"]:
        references.append(throughput_row(
            ref["name"], ref["peak_ops_per_s"], price_usd=ref["price_usd"], power_w=ref["power_w"],
            precision=ref["precision"], price_date=ref["price_date"], source=ref["source"]))
    return {"design": row, "reference": references}


def format_ops(value, per=""):
    """Format operations per second with a prefix: ``91.75 TOPS``, ``830 MOPS/$``."""
    if value is None:
        return "-"
    for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {prefix}OPS{per}"
    return f"{value:.4g} OPS{per}"
