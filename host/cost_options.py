"""Command-line options of the cost model, shared by ``cost``, ``report`` and ``workload``:
argument types for money, volumes and devices, the option groups, and the
:class:`~systolic.host.cost.Case` they describe (:func:`case_from_args`)."""

import argparse

from ..boards import catalog
from ..rtl.config import ArrayConfig
from . import cost
from .build_report import load_build
from .errors import UsageError
from .numbers import number_type, parse_number
from .options import config_from_args

__all__ = ["parse_money", "parse_units", "parse_device", "parse_positive", "parse_non_negative", "parse_device_price",
           "add_money_options", "add_design_options", "add_estimate_options", "case_from_args",
           "ESTIMATE_OPTIONS", "MONEY_OPTIONS"]


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
