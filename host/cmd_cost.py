"""``systolic cost``: FPGA or ASIC? Total cost, breakeven volume and its sensitivity.

With no options the command reproduces the reference case (ASIC $1.5M NRE + $4 a unit
against an FPGA at $8 a unit: breakeven at 375,000 units). ``--from-build`` or array options
with ``--device`` derive the costs from a design instead: the FPGA's price from the device
catalog, the ASIC's from an estimate of the design on a process node.
"""

import argparse
import json
import math
from pathlib import Path

from ..boards import catalog
from ..rtl.config import ArrayConfig, ConfigError
from . import cost
from .errors import UsageError
from .money import quantity, usd
from .numbers import number_type, parse_number
from .options import add_array_options, config_from_args
from .output import STDOUT, check_output, print_json

__all__ = ["register", "add_money_options", "add_design_options", "add_estimate_options",
           "run", "load_build", "build_config", "case_from_args", "render", "summarize", "usd",
           "parse_money", "parse_units", "parse_device", "parse_positive", "parse_non_negative",
           "parse_device_price", "ESTIMATE_OPTIONS", "MONEY_OPTIONS"]

def parse_money(text):
    """Return an amount of US dollars >= 0 from text such as ``1.5M``, ``$1,500,000`` or ``4``."""
    value = parse_number(text)
    if value is None or value < 0:
        raise argparse.ArgumentTypeError(
            f"must be an amount of US dollars, 0 or more (e.g. 1500000, 1.5M or 4.50); got {text!r}")
    return float(value)


def parse_units(text):
    """Return a volume: a whole number of units, 1 or more (``1000``, ``1e6``, ``375k``)."""
    value = parse_number(text)
    if value is None or value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(
            f"must be a whole number of units, 1 or more (e.g. 1000, 1e6 or 375k); got {text!r}")
    return int(value)


def _ranged(what, lo, hi, lo_open=False, hi_open=False):
    """Return an argument type for a number in a range (``None`` bounds are open-ended)."""
    return number_type(what, lo, hi, lo_open=lo_open, hi_open=hi_open)


def _node(text):
    try:
        return cost.node_key(text)
    except cost.CostInputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_device(text):
    """Return ``text`` if it names a device of the catalog (argument type)."""
    try:
        catalog.device(text)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(exc.args[0]) from None
    return text


def parse_device_price(text):
    name, sep, amount = str(text).partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"must be DEVICE=USD (e.g. LFE5U-25F=12.50); got {text!r}")
    return parse_device(name.strip()), parse_money(amount)


parse_positive = _ranged("a number greater than 0", 0, None, lo_open=True)
parse_non_negative = _ranged("a number, 0 or more", 0, None)


# The parser ----------------------------------------------------------------------------------

def register(subparsers):
    """Add the ``cost`` subcommand to ``subparsers``."""
    data = cost.load_cost_data()
    parser = subparsers.add_parser(
        "cost", help="FPGA or ASIC? total cost, breakeven volume and its sensitivity",
        description="Compare the total cost NRE + unit x volume of an FPGA and an ASIC, find the "
                    "breakeven volume and show how it moves when each input moves by +/-50%. "
                    "With no options: the reference case (ASIC $1.5M + $4 a unit, FPGA $0 + $8 a "
                    "unit, breakeven 375,000 units). With --from-build, or array options and "
                    "--device, the costs are derived from the design. Amounts accept 1500000, "
                    "1,500,000, 1.5e6 or 1.5M. Every input is printed with its value and source.")
    out = parser.add_argument_group("volumes and output")
    out.add_argument("--units", type=parse_units, nargs="+", action="extend", metavar="N",
                     help="volumes at which to total both options (default: "
                          f"{', '.join(f'{v:,}' for v in data['volumes']['value'])})")
    out.add_argument("--plot", metavar="FILE",
                     help="write a picture in the format the suffix names (.png, .pdf, .svg, ...; "
                          "- for a PNG on standard output): total cost against volume (log axes) with the breakeven "
                          "and its sensitivity band, beside the tornado chart")
    out.add_argument("--sensitivity", type=_ranged("a fraction", 0, 1, True, True), metavar="F",
                     help=f"how far the tornado moves each input, as a fraction (default "
                          f"{data['sensitivity']['value']}, i.e. +/-50%%)")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    add_money_options(parser)
    add_design_options(parser)
    add_array_options(parser)
    add_estimate_options(parser)
    parser.set_defaults(func=run)
    return parser


def add_money_options(parser):
    """Add ``--asic-nre --asic-unit --fpga-nre --fpga-unit`` (read by :func:`case_from_args`)."""
    ref = {k: v["value"] for k, v in cost.load_cost_data()["reference_case"].items()}
    money = parser.add_argument_group(
        "money, in USD (default: the reference case; with a design, these replace the derived values)")
    money.add_argument("--asic-nre", type=parse_money, metavar="USD",
                       help=f"ASIC non-recurring cost: masks and design (reference {ref['asic_nre']:,.0f})")
    money.add_argument("--asic-unit", type=parse_money, metavar="USD",
                       help=f"ASIC cost per packaged, tested part (reference {ref['asic_unit']:g})")
    money.add_argument("--fpga-nre", type=parse_money, metavar="USD",
                       help=f"FPGA non-recurring cost (reference {ref['fpga_nre']:g})")
    money.add_argument("--fpga-unit", type=parse_money, metavar="USD",
                       help=f"FPGA cost per part (reference {ref['fpga_unit']:g}; with a design: "
                            "the catalog price of the smallest device that holds it)")
    return money


def add_design_options(parser, *, from_build_help=None):
    """Add ``--from-build --device --device-price --node`` (read by :func:`case_from_args`)."""
    data = cost.load_cost_data()
    design = parser.add_argument_group("derive the costs from a design")
    design.add_argument("--from-build", metavar="BUILD.json",
                        help=from_build_help or "the JSON printed by 'systolic build --json': "
                                                "device and resources used")
    design.add_argument("--device", type=parse_device, metavar="NAME",
                        help="with array options: the FPGA family to cost the array on (the smallest "
                             f"device of the family that holds it is used); one of "
                             f"{', '.join(catalog.devices())}")
    design.add_argument("--device-price", type=parse_device_price, action="append", metavar="DEVICE=USD",
                        help="override a catalog device price (repeatable)")
    design.add_argument("--node", type=_node, metavar="NODE",
                        help=f"ASIC process node, one of {', '.join(data['nodes'])} "
                             f"(default {data['default_node']['value']})")
    return design


def add_estimate_options(parser):
    """Add the ASIC estimate's inputs (``--asic-area`` ... ``--final-test-yield``)."""
    asic = cost.load_cost_data()["asic"]
    est = parser.add_argument_group(
        "ASIC estimate (with a design; defaults and their sources in host/cost_data.json)")
    est.add_argument("--asic-area", dest="asic_area_mm2", type=parse_positive, metavar="MM2",
                     help="die area in mm^2 (default: FPGA LUTs x area per LUT / --area-ratio, "
                          "scaled to the node), e.g. from a synthesis of the design")
    est.add_argument("--area-ratio", type=parse_positive, metavar="X",
                     help="FPGA/ASIC area ratio (Kuon & Rose: 35 for logic only, 18 with hard "
                          "multipliers or RAM; chosen from the design)")
    est.add_argument("--wafer-price", type=parse_money, metavar="USD",
                     help="price of one processed 300 mm wafer (default: per node)")
    est.add_argument("--mask-set", type=parse_money, metavar="USD",
                     help="mask set price (default: per node)")
    est.add_argument("--design-effort", type=parse_money, metavar="USD",
                     help=f"design labour, CAD and IP (default: {asic['design_effort_factor']['value']:g} "
                          "x the mask set)")
    est.add_argument("--defect-density", type=parse_non_negative, metavar="D0",
                     help="defects per cm^2 (default: per node)")
    est.add_argument("--yield-model", choices=cost.YIELD_MODELS,
                     help=f"die yield model (default {asic['yield_model']['value']})")
    est.add_argument("--alpha", type=parse_positive, metavar="A",
                     help=f"negative-binomial clustering parameter (default {asic['alpha']['value']:g})")
    est.add_argument("--wafer-diameter", dest="wafer_diameter_mm", type=parse_positive, metavar="MM",
                     help=f"wafer diameter (default {asic['wafer_diameter_mm']['value']:g} mm)")
    est.add_argument("--edge-exclusion", dest="edge_exclusion_mm", type=parse_non_negative, metavar="MM",
                     help=f"unusable ring at the wafer edge (default {asic['edge_exclusion_mm']['value']:g} mm)")
    est.add_argument("--scribe", dest="scribe_mm", type=parse_non_negative, metavar="MM",
                     help=f"scribe lane added to the die side (default {asic['scribe_mm']['value']:g} mm)")
    est.add_argument("--package", type=parse_money, metavar="USD",
                     help=f"package cost per part (default {asic['package']['value']:.2f})")
    est.add_argument("--test", type=parse_money, metavar="USD",
                     help=f"test cost per part (default {asic['test']['value']:.2f})")
    est.add_argument("--final-test-yield", type=_ranged("a fraction", 0, 1, lo_open=True), metavar="F",
                     help=f"fraction of packaged parts that pass (default {asic['final_test_yield']['value']:g})")
    return est


# Reading a build report ----------------------------------------------------------------------

_BUILD_COUNTS = catalog.RESOURCES


def load_build(path):
    """Read and check the JSON report of ``systolic build --json``.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        The report. It has at least ``device`` (a catalog name), ``lut``, ``ff``, ``dsp``
        and ``bram`` (each ``{"used": n, "available": n}``), ``macs``, ``fmax_mhz`` (a
        number or ``None``), ``target_mhz`` and ``timing_met``; ``board``, ``fits``,
        ``peak_gops``, ``bitstream`` and ``config`` (``ArrayConfig.to_dict()``) are kept
        when present.

    Raises
    ------
    UsageError
        Naming the file and the key, if the file is unreadable or a key is missing or wrong.
    """
    where = f"--from-build {path}"
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not a text file; expected the JSON output of 'systolic "
                         f"build --json'") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc.msg} at line {exc.lineno}); expected the "
                         f"output of 'systolic build --json'") from None
    if not isinstance(report, dict):
        raise UsageError(f"{where}: expected a JSON object, the output of 'systolic build --json'")

    def need(key, check, allowed):
        if key not in report:
            raise UsageError(f"{where}: key {key!r} is missing; expected the output of 'systolic build --json'")
        if not check(report[key]):
            raise UsageError(f"{where}: {key}={report[key]!r} is invalid: must be {allowed}")

    def count(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    need("device", lambda v: isinstance(v, str) and v in catalog.devices(),
         f"a device of boards/devices.json: {', '.join(catalog.devices())}")
    for key in _BUILD_COUNTS:
        need(key, lambda v: isinstance(v, dict) and count(v.get("used")) and count(v.get("available")),
             '{"used": n, "available": n} with whole numbers n >= 0')
    need("macs", lambda v: count(v) and v >= 1, "a whole number >= 1")
    need("fmax_mhz", lambda v: v is None or (number(v) and v >= 0), "a number of MHz >= 0 or null")
    need("target_mhz", lambda v: number(v) and v > 0, "a number of MHz > 0")
    need("timing_met", lambda v: isinstance(v, bool), "true or false")
    if report.get("config") is not None:
        if not isinstance(report["config"], dict):
            raise UsageError(f"{where}: config must be a JSON object (ArrayConfig.to_dict()), "
                             f"got {type(report['config']).__name__}")
        try:
            config = ArrayConfig.from_dict(report["config"])
        except (ConfigError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{where}: config is invalid: {exc}") from None
        if config.macs != report["macs"]:
            raise UsageError(f"{where}: macs={report['macs']} disagrees with its config, a "
                             f"{config.rows}x{config.cols} array of {config.macs} MACs")
    return report


def build_config(report):
    """Return the :class:`ArrayConfig` of a build report, or ``None`` if it has none."""
    if report.get("config") is None:
        return None
    return ArrayConfig.from_dict(report["config"])


# From arguments to a case --------------------------------------------------------------------

#: Attribute names of the options that only an estimated design takes.
ESTIMATE_OPTIONS = ("node", "asic_area_mm2", "area_ratio", "wafer_price", "mask_set",
                    "design_effort", "defect_density", "yield_model", "alpha",
                    "wafer_diameter_mm", "edge_exclusion_mm", "scribe_mm", "package", "test",
                    "final_test_yield", "device_price")
#: Attribute names of the money options (NRE and unit cost of each option).
MONEY_OPTIONS = ("asic_nre", "asic_unit", "fpga_nre", "fpga_unit")


def _flag(name):
    return cost.OPTION_NAMES.get(name, "--" + name.replace("_", "-"))


def case_from_args(args, *, array_needs_device=True):
    """Return the :class:`~systolic.host.cost.Case` the command-line options describe.

    With ``array_needs_device=False`` array options without ``--device`` are allowed (they
    describe something else, the engine of ``systolic workload``) and give the reference case.

    Raises
    ------
    UsageError
        On a combination of options that cannot be used together, or an input the model
        cannot use.
    """
    config = config_from_args(args)
    if args.from_build and args.device:
        raise UsageError("--from-build and --device exclude each other: the build report names "
                         "its device")
    if args.from_build and config != ArrayConfig():
        raise UsageError("--from-build and array options exclude each other: the build report "
                         "describes the design")
    if not args.from_build and not args.device:
        if array_needs_device and config != ArrayConfig():
            raise UsageError("array options need --device NAME: the FPGA family to cost the array on")
        given = [_flag(n) for n in ESTIMATE_OPTIONS if getattr(args, n, None) is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only with a design to estimate; give "
                             f"--from-build BUILD.json, or array options with --device NAME")
        return cost.reference_case({n: getattr(args, n) for n in MONEY_OPTIONS})

    overrides = {n: getattr(args, n, None) for n in cost.OPTION_NAMES}
    prices = dict(args.device_price or [])
    try:
        if args.from_build:
            design = cost.design_from_build(load_build(args.from_build))
        else:
            design = cost.design_from_config(config, args.device)
        return cost.derived_case(design, node=args.node, overrides=overrides,
                                 device_prices=prices)
    except cost.CostInputError as exc:
        raise UsageError(str(exc)) from None


def run(args):
    """Run ``systolic cost`` with parsed ``args``; return the exit status."""
    plot = None
    if args.plot is not None:
        if args.json and args.plot == STDOUT:
            raise UsageError("--plot -: standard output carries the --json object; give a file name")
        from .costplot import plot_format
        plot = check_output(args.plot, "--plot", inputs=[("--from-build", args.from_build)])
        plot_format(args.plot)
    case = case_from_args(args)
    try:
        result = cost.analyse(case, args.units, args.sensitivity)
    except cost.CostInputError as exc:
        raise UsageError(str(exc)) from None
    if plot is not None:
        _write_plot(plot, result)
        result["plot"] = str(args.plot)
        if args.plot == STDOUT:
            return 0          # the picture is the output
    if args.json:
        print_json(result)
    else:
        print("\n".join(render(result)))
    return 0


def _write_plot(path, result):
    from .costplot import write_cost_plot
    try:
        write_cost_plot(path, result)
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise UsageError(f"--plot {path}: cannot write the file ({exc.strerror or exc})") from None


# Text ----------------------------------------------------------------------------------------

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
    """Return the text lines of an :func:`~systolic.host.cost.analyse` result."""
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


# For the demo --------------------------------------------------------------------------------

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
            case = cost.derived_case(cost.design_from_build(report), node=node)
        elif config is not None and device is not None:
            case = cost.derived_case(cost.design_from_config(config, device), node=node)
    except (cost.CostInputError, UsageError) as exc:
        lines.append(f"cost: not derived from the design ({exc}); showing the reference case")
    if case is None:
        case = cost.reference_case()
    result = cost.analyse(case, units)
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
        from .costplot import write_cost_plot
        write_cost_plot(plot_path, result)
        lines.append(f"cost: plot written to {plot_path}")
    return lines
