"""``systolic workload``: a whole network on a design, layer by layer, with its cost and energy."""

from ..rtl.engine.config import EngineConfig
from ..rtl.protocol import DEFAULT_BAUD
from .build_report import build_clock, build_config, load_build
from .comparison import format_ops
from .cost_options import (ESTIMATE_OPTIONS, MONEY_OPTIONS, add_design_options,
                           add_estimate_options, add_money_options, case_from_args,
                           parse_positive, parse_units)
from .link_options import add_board_options
from .money import usd
from .errors import UsageError
from .options import (BATCH_MAX, array_options, config_from_args, engine_config_from_args,
                      engine_options)
from .output import check_output, print_json, progress, write_atomic

__all__ = ["register", "run", "render", "BATCH_MAX"]


_OPERATION = ("power", "units", "lifetime_years", "usd_per_kwh")


def register(subparsers):
    """Add the ``workload`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "workload", help="a whole network (SCALE-Sim CSV, ONNX) on a design: per-layer cycles, "
                         "time, cost and energy",
        description="Lower every layer of a network to GEMMs (convolutions by im2col: M = output "
                    "pixels x batch, K = filter height x width x channels, N = filters; grouped "
                    "and depthwise convolutions one GEMM per group) and run each through the "
                    "exact cycle model of the engine design (the model the RTL is held to). "
                    "Prints per layer the GEMM shape, MACs, cycles, efficiency, bytes to and from "
                    "the engine and over the link, and time at the clock; then the latency of a "
                    "pass, inferences/s and sustained GOPS. With a device or a build report "
                    "(and --power for energy): cost and energy per million inferences on the "
                    "FPGA, as an ASIC and on the reference GPUs and TPUs. FILE is a SCALE-Sim "
                    "topology CSV (conv form 'Layer name, IFMAP Height, IFMAP Width, Filter "
                    "Height, Filter Width, Channels, Num Filter, Strides,' or GEMM form 'Layer, "
                    "M, N, K,'), an ONNX model (Conv, Gemm and MatMul nodes mapped, the others "
                    "listed with their counts), or a shipped topology: resnet18, resnet50, "
                    "mobilenetv2, bert_base_encoder.")
    parser.add_argument("file", metavar="FILE",
                        help="topology CSV, .onnx model, or the name of a shipped topology")
    out = parser.add_argument_group("the run and its output")
    out.add_argument("--batch", type=int, default=1, metavar="B",
                     help=f"inferences computed together, 1 to {BATCH_MAX} (default 1): every "
                          "layer's M grows by B (a product of two activations: B times the GEMMs)")
    out.add_argument("--clock-mhz", type=parse_positive, metavar="F",
                     help="the engine's clock, for times, inferences/s and cost (with "
                          "--from-build: replaces the build's clock)")
    out.add_argument("--baud", type=int, metavar="BAUD",
                     help=f"line rate of the board's UART, for the link time (default: the "
                          f"build's, else {DEFAULT_BAUD:,})")
    out.add_argument("--csv", metavar="OUT.csv",
                     help="write the per-layer table (our columns, then SCALE-Sim's "
                          "COMPUTE_REPORT names: LayerID, Total Cycles, Overall Util %%, "
                          "Mapping Efficiency %%, Compute Util %%)")
    out.add_argument("--plot", metavar="OUT.png",
                     help="write a PNG: cycles and efficiency by layer")
    out.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--board", metavar="NAME",
                        help="design, clock and FPGA of a board's default build (as 'systolic "
                             "build --board NAME' makes it; see 'systolic boards'); array options "
                             "replace its array, engine options its buffers, --clock-mhz its "
                             "clock, --device its FPGA")
    add_board_options(parser, tiling=False)
    add_design_options(parser, from_build_help="the JSON printed by 'systolic build --json': "
                                               "the design, its clock and UART baud, its device")
    add_money_options(parser)
    per = parser.add_argument_group(
        "per million inferences (defaults and their sources in host/cost_data.json)")
    per.add_argument("--power", type=parse_positive, metavar="W",
                     help="power of the design on its FPGA in watts, for the energy (the ASIC's "
                          "is this / Kuon & Rose's dynamic power ratio)")
    per.add_argument("--units", type=parse_units, metavar="N",
                     help="volume over which the NREs are spread, for the price per part")
    per.add_argument("--lifetime-years", type=parse_positive, metavar="Y",
                     help="years the hardware runs, flat out, to pay for itself")
    per.add_argument("--usd-per-kwh", type=parse_positive, metavar="USD",
                     help="price of electricity")
    add_estimate_options(parser)
    parser.set_defaults(func=run)
    return parser


# The design and its clock --------------------------------------------------------------------

def _board_design(args):
    """The ``--board`` design: ``(engine config, clock Hz, clock source)``; sets ``args.device``
    to the board's FPGA unless one was given."""
    from ..boards.design import default_engine_config
    from ..boards.platforms import UnknownBoardError, board as get_board
    try:
        board = get_board(args.board)
    except UnknownBoardError as exc:
        raise UsageError(f"--board: {exc.args[0]}") from None
    array = config_from_args(args, base=board.array)
    engine = default_engine_config(board, array, **engine_options(args))
    if args.device is None:
        args.device = board.device
        args.device_from_board = True
    if args.clock_mhz is not None:
        return engine, args.clock_mhz * 1e6, "command line (--clock-mhz)"
    return engine, board.default_clk_hz, (f"{board.name}'s default build clock (its record in "
                                          f"boards/platforms.py; what builds reach: BENCHMARKS.md)")


def _design(args):
    """Return ``(engine config, clock Hz or None, clock source, baud, build or None)``."""
    if args.from_build and args.board:
        raise UsageError("--from-build and --board exclude each other: the build report names "
                         "its board's design")
    if args.board:
        engine, clock_hz, source = _board_design(args)
        return engine, clock_hz, source, args.baud or DEFAULT_BAUD, None
    if args.from_build:
        if array_options(args) or engine_options(args):
            raise UsageError("--from-build excludes array and engine options: the build report "
                             "describes the design")
        build = load_build(args.from_build)
        if build.get("engine"):
            try:
                engine = EngineConfig.from_dict(build["engine"])
            except (ValueError, TypeError) as exc:
                raise UsageError(f"--from-build {args.from_build}: engine is invalid: {exc}") from None
        elif build_config(build) is not None:
            engine = EngineConfig(build_config(build))
        else:
            raise UsageError(f"--from-build {args.from_build}: the report has no engine or "
                             f"config; expected the output of 'systolic build --json'")
        mhz, source = build_clock(build, args.clock_mhz)
        baud = args.baud or build.get("baud") or DEFAULT_BAUD
        return engine, mhz * 1e6, source, baud, build
    engine = engine_config_from_args(args)
    if args.clock_mhz is None:
        return engine, None, None, args.baud or DEFAULT_BAUD, None
    return engine, args.clock_mhz * 1e6, "command line (--clock-mhz)", args.baud or DEFAULT_BAUD, None


def _wants_cost(args):
    return bool(args.from_build or args.device
                or any(getattr(args, name) is not None
                       for name in (*MONEY_OPTIONS, *_OPERATION, *ESTIMATE_OPTIONS)))


def _cost(args, report):
    """Return the cost and energy per million inferences, or None when none was asked for."""
    from ..workloads.economics import economics, operation_defaults
    from . import cost
    if not _wants_cost(args):
        return None
    totals = report["totals"]
    case = case_from_args(args, array_needs_device=False)
    units = args.units or operation_defaults()["volume"]["value"]
    try:
        analysis = cost.analyse(case, [units])
    except cost.CostInputError as exc:
        raise UsageError(str(exc)) from None
    result = economics(totals["inferences_per_s"], totals["macs"] / report["batch"], analysis,
                       power_w=args.power, units=args.units, lifetime_years=args.lifetime_years,
                       usd_per_kwh=args.usd_per_kwh)
    result["cost_assumptions"] = analysis["assumptions"]
    return result


# The command ---------------------------------------------------------------------------------

def _check_outputs(args):
    inputs = [("FILE", args.file)]
    for option, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path is not None:
            check_output(path, option, inputs=inputs)
            inputs.append((option, path))


def run(args):
    """Run ``systolic workload`` with parsed ``args``; return the exit status."""
    from ..workloads import WorkloadError, load_network, network_report
    from ..workloads.report import report_csv
    if not 1 <= args.batch <= BATCH_MAX:
        raise UsageError(f"--batch {args.batch} is out of range: must be a whole number from 1 "
                         f"to {BATCH_MAX}")
    if args.baud is not None and args.baud <= 0:
        raise UsageError(f"--baud {args.baud} must be a positive number of bits a second")
    _check_outputs(args)
    engine, clock_hz, clock_source, baud, _build = _design(args)
    if clock_hz is None and _wants_cost(args):
        # Found before any progress line, so that bad input is one line.
        raise UsageError("cost and energy per inference need a clock: give --clock-mhz F (or "
                         "--from-build BUILD.json)")
    try:
        network = load_network(args.file)
    except WorkloadError as exc:
        raise UsageError(str(exc)) from None

    def say(message):
        progress(message, quiet=args.json)

    report = network_report(network, engine, batch=args.batch, clock_hz=clock_hz, baud=baud,
                            max_payload=args.max_payload, progress=say)
    report["clock_source"] = clock_source
    report["cost_note"] = None
    try:
        report["cost"] = _cost(args, report)
    except UsageError as exc:
        if not getattr(args, "device_from_board", False):
            raise
        # Asked for a board, not for its cost: say why there is none instead of failing.
        report["cost"], report["cost_note"] = None, f"no cost: {exc}"
    if args.csv:
        write_atomic(args.csv, report_csv(report))
        report["csv"] = str(args.csv)
    if args.plot:
        from ..workloads.plot import write_layer_plot
        try:
            write_layer_plot(args.plot, report)
        except OSError as exc:
            raise UsageError(f"--plot {args.plot}: cannot write the file ({exc.strerror or exc})") from None
        report["plot"] = str(args.plot)
    if args.json:
        print_json(report)
    else:
        print("\n".join(render(report)))
    return 0


# Text ----------------------------------------------------------------------------------------

def _count(value):
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:g}"


def _seconds(value):
    if value is None:
        return "-"
    if value >= 1:
        return f"{value:.3g} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} us"


def _layer_lines(report):
    lines = [f"  {'#':>3} {'layer':<20} {'kind':<14} {'GEMM M x K x N':>20} {'MACs':>7} "
             f"{'cycles':>8} {'eff':>5} {'w/load':>6} {'map':>5} {'to/from engine':>15} "
             f"{'time':>9}"]
    for row in report["layers"]:
        shape = f"{row['m']}x{row['k']}x{row['n']}" + (f" x{row['gemms']}" if row["gemms"] > 1 else "")
        lines.append(
            f"  {row['layer_id']:>3} {row['name'][:20]:<20} {row['kind']:<14} {shape:>20} "
            f"{_count(row['macs']):>7} {_count(row['total_cycles']):>8} {row['efficiency']:>5.2f} "
            f"{row['sustained_efficiency']:>6.2f} {row['mapping_efficiency']:>5.2f} "
            f"{_count(row['bytes_to_engine']) + 'B/' + _count(row['bytes_from_engine']) + 'B':>15} "
            f"{_seconds(row['time_s']):>9}")
    return lines


def _cost_lines(cost_):
    lines = ["", "Per million inferences (hardware bought once, run flat out over its lifetime):",
             f"  {'':30} {'inferences/s':>13} {'price':>10} {'power':>8} {'hardware':>10} "
             f"{'energy':>10} {'electricity':>11} {'total':>10}"]
    for row in cost_["rows"]:
        power = "-" if row["power_w"] is None else f"{row['power_w']:.3g} W"
        kwh = "-" if row["energy_kwh"] is None else f"{row['energy_kwh']:.3g} kWh"
        lines.append(f"  {row['name'][:30]:30} {row['inferences_per_s']:>13,.4g} "
                     f"{usd(row['price_usd']) if row['price_usd'] is not None else '-':>10} "
                     f"{power:>8} {usd(row['hardware_usd']) if row['hardware_usd'] is not None else '-':>10} "
                     f"{kwh:>10} {usd(row['energy_usd']) if row['energy_usd'] is not None else '-':>11} "
                     f"{usd(row['usd']) if row['usd'] is not None else '-':>10}")
    lines.append("  inferences/s: " + "; ".join(f"{row['name']}: {row['basis']}"
                                                for row in cost_["rows"][:3]) + "; ...")
    lines.append("Assumptions (value: source):")
    for item in cost_["assumptions"]:
        lines.append(f"  {item['name']} = {item['value']} {item['unit']}: {item['source']}")
    for item in cost_["cost_assumptions"]:
        if item["name"] in ("device", "fpga_unit", "fpga_nre", "asic_nre", "asic_unit", "node",
                            "asic_area_mm2"):
            value = item["value"]
            shown = f"{value:,.4g}" if isinstance(value, (int, float)) else value
            lines.append(f"  {item['name']} = {shown} {item['unit']}: {item['source']}")
    return lines


def render(report):
    """Return the text lines of a ``workload`` report (with its ``cost``, if any)."""
    totals = report["totals"]
    clock = report["clock_hz"]
    lines = [f"{report['network']} ({report['form']}: {report['source']}), batch {report['batch']}",
             f"design: {report['design']}",
             f"clock:  {clock / 1e6:g} MHz ({report['clock_source']})" if clock else
             "clock:  none given (--clock-mhz F or --from-build BUILD.json for times and rates)",
             "", *_layer_lines(report)]
    if report["not_mapped"]:
        lines += ["", "not mapped (not GEMMs): " + ", ".join(
            f"{op} x{count}" for op, count in report["not_mapped"].items())]
    for note in report["notes"]:
        lines.append(f"note: {note}")
    lines += ["", f"total: {totals['layers']} layers, {totals['macs']:,} MACs, {totals['jobs']:,} "
                  f"engine jobs, {totals['total_cycles']:,} cycles ({totals['ideal_cycles']:,.0f} "
                  f"ideal): efficiency {totals['sustained_efficiency']:.3f} with loads, "
                  f"{totals['efficiency']:.3f} without"]
    if clock:
        lines.append(f"       latency {_seconds(totals['latency_s'])} a pass, "
                     f"{totals['inferences_per_s']:,.4g} inferences/s, "
                     f"{format_ops(totals['sustained_gops'] * 1e9)} sustained of "
                     f"{format_ops(totals['peak_gops'] * 1e9)} peak")
    lines.append(f"link:  {totals['bytes_to_engine']:,} bytes to the engine, "
                 f"{totals['bytes_from_engine']:,} back; over a {report['baud']:,}-baud UART "
                 f"at least {totals['link_bytes']:,} bytes, {_seconds(totals['link_s'])} a pass "
                 f"({totals['link_inferences_per_s']:,.3g} inferences/s)")
    if report.get("cost"):
        lines += _cost_lines(report["cost"])
    elif report.get("cost_note"):
        lines += ["", report["cost_note"]]
    for key in ("csv", "plot"):
        if report.get(key):
            lines.append(f"{key}: {report[key]}")
    lines.append(f"report: {report['report_s']:.2f} s ({report['shapes']} distinct GEMM shapes "
                 f"through the engine model)")
    return lines
