"""A cost analysis as text: the full table ``systolic cost`` prints, and the short summary the
demo prints."""

from ..build_report import load_build
from ..errors import UsageError
from ..money import quantity, usd
from .analysis import analyse
from .data import CostInputError
from .inputs import derived_case, reference_case
from .resources import design_from_build, design_from_config

__all__ = ["render", "summarize"]



def _units(value):
    return quantity(value)


def _value(value, unit):
    if isinstance(value, str) or value is None:
        return str(value)
    if unit.startswith("USD"):
        text = usd(value)
        return text if unit == "USD" else f"{text} {unit[4:]}"
    return f"{value:,.6g} {unit}".rstrip()


def render(result):
    """Return the text lines of an :func:`~systolic.host.analyse` result."""
    units_of = {a["name"]: a["unit"] for a in result["assumptions"]}
    lines = ["FPGA or ASIC: total cost = NRE + unit cost x volume"]
    design = result.get("design")
    if design:
        lines.append(f"  design: {design['macs']} MACs, {design['luts']:,} LUTs on {design['device']} "
                     f"({design['origin']})")
    lines += [f"  {'':6} {'NRE':>14} {'unit cost':>12}",
              f"  {'FPGA':6} {usd(result['fpga']['nre']):>14} {usd(result['fpga']['unit']):>12}",
              f"  {'ASIC':6} {usd(result['asic']['nre']):>14} {usd(result['asic']['unit']):>12}",
              "", result["verdict"], ""]
    lines.append(f"  {'units':>12} {'FPGA total':>16} {'ASIC total':>16} {'FPGA/unit':>11} "
                 f"{'ASIC/unit':>11}  cheaper")
    for row in result["volumes"]:
        lines.append(f"  {quantity(row['units']):>12} {usd(row['fpga_total']):>16} {usd(row['asic_total']):>16} "
                     f"{usd(row['fpga_per_unit']):>11} {usd(row['asic_per_unit']):>11}  "
                     f"{row['cheaper'].upper() if row['cheaper'] != 'equal' else 'equal'}")
    estimate = result.get("asic_estimate")
    if estimate:
        lines += ["", "ASIC estimate:",
                  f"  die {estimate['area_mm2']:.4g} mm^2, {estimate['dies_per_wafer']:,} dies per "
                  f"wafer, die yield {estimate['die_yield']:.2%}, good die {usd(estimate['die_cost'])}",
                  f"  unit = (die {usd(estimate['die_cost'])} + package {usd(estimate['package'])} "
                  f"+ test {usd(estimate['test'])}) / final-test yield = {usd(estimate['unit_cost'])}",
                  f"  NRE = masks {usd(estimate['mask_set'])} + design {usd(estimate['design_effort'])}"
                  f" = {usd(estimate['nre'])}"]
    pct = f"{result['sensitivity']:.0%}"
    lines += ["", f"Sensitivity: the breakeven when one input moves by -{pct} / +{pct}, the others held:",
              f"  {'input':<18} {'low':>18} {'-> breakeven':>14} {'high':>18} {'-> breakeven':>14}"]
    for row in result["tornado"]:
        unit = units_of.get(row["input"], "")
        lines.append(f"  {row['input']:<18} {_value(row['low'], unit):>18} "
                     f"{_units(row['breakeven_low']):>14} {_value(row['high'], unit):>18} "
                     f"{_units(row['breakeven_high']):>14}")
    lines += ["", "Assumptions (value: source):"]
    for item in result["assumptions"]:
        lines.append(f"  {item['name']} = {_value(item['value'], item['unit'])}: {item['source']}")
    if result.get("plot"):
        lines += ["", f"plot: {result['plot']}"]
    return lines


def summarize(build=None, *, config=None, device=None, node=None, plot_path=None, units=None):
    """Return a short cost summary as text lines, and write the plot if asked.

    The costs are derived from ``build`` (a build report, as a dict or a path to its JSON)
    or from ``config`` on ``device``'s family; without either, or when the derivation is not
    possible (a device without a price, say), the reference case is shown and a line says why.

    Parameters
    ----------
    build : dict or str or Path, optional
        Output of ``systolic build --json``.
    config : ArrayConfig, optional
        The array, used with ``device`` when there is no build report.
    device : str, optional
        Catalog device naming the FPGA family.
    node : str, optional
        ASIC process node (default: the data file's).
    plot_path : str or Path, optional
        Where to write the PNG.
    units : sequence of int, optional
        Volumes to show.

    Returns
    -------
    list of str

    Raises
    ------
    OSError
        If the plot cannot be written.
    """
    lines = []
    case = None
    try:
        if build is not None:
            report = build if isinstance(build, dict) else load_build(build)
            case = derived_case(design_from_build(report), node=node)
        elif config is not None and device is not None:
            case = derived_case(design_from_config(config, device), node=node)
    except (CostInputError, UsageError) as exc:
        lines.append(f"cost: not derived from the design ({exc}); showing the reference case")
    if case is None:
        case = reference_case()
    result = analyse(case, units)
    fpga, asic = result["fpga"], result["asic"]
    lines += [f"cost: FPGA {usd(fpga['nre'])} NRE + {usd(fpga['unit'])}/unit"
              + (f" ({result['design']['device']})" if result.get("design") else "")
              + f" vs ASIC {usd(asic['nre'])} NRE + {usd(asic['unit'])}/unit",
              f"cost: {result['verdict']}"]
    estimate = result.get("asic_estimate")
    if estimate:
        node = next(a["value"] for a in result["assumptions"] if a["name"] == "node")
        lines.append(f"cost: ASIC at {node}: {estimate['area_mm2']:.3g} mm^2 die at "
                     f"{usd(estimate['die_cost'])} + package and test "
                     f"{usd(estimate['package'] + estimate['test'])}; NRE = masks "
                     f"{usd(estimate['mask_set'])} + design {usd(estimate['design_effort'])}")
    widest = [r for r in result["tornado"] if r["swing"] != 0][:3]
    if widest:
        lines.append("cost: most sensitive to " + ", ".join(r["input"] for r in widest)
                     + f" (+/-{result['sensitivity']:.0%})")
    if plot_path is not None:
        from .plot import write_cost_plot
        write_cost_plot(plot_path, result)
        lines.append(f"cost: plot written to {plot_path}")
    return lines
