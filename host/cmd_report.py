"""``systolic report``: peak, sustained and over-the-wire throughput of a design, per dollar and
per watt, beside references.

The comparison model (peak operations per second, per dollar and per watt, and the reference
rows from ``cost_data.json``) is :mod:`.comparison`; sustained and link figures are those of a
reference GEMM (:mod:`.throughput`).
"""

from ..rtl.engine.config import EngineConfig
from . import cost
from .build_report import build_clock, build_config, load_build
from .comparison import design_row, format_ops, report
from .cost_options import parse_device, parse_money, parse_positive
from .errors import UsageError
from .options import (add_array_options, add_engine_options, add_gemm_option, array_options,
                      check_gemm_option, config_from_args, engine_config_from_args,
                      engine_options)
from .output import print_json
from .throughput import throughput

__all__ = ["register", "run"]


def register(subparsers):
    """Add the ``report`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "report", help="peak, sustained and link throughput, per dollar and per watt, beside "
                       "A100/H100/TPU rows",
        description="Report the throughput of a design: peak (2 x MACs x clock), sustained (the "
                    "exact engine model's cycles for a reference GEMM, host tiling and the first "
                    "job's operand load included) and over the board's serial link (the driver's "
                    "own frames at the baud); per dollar of the FPGA and, given a power figure, "
                    "per watt, beside reference rows for the NVIDIA A100 and H100 and Google's "
                    "TPU v4 and v1 (host/cost_data.json). The design comes from --board (the "
                    "board's default design at its target clock, without building), from "
                    "--from-build, or from array and engine options with --clock-mhz.")
    src = parser.add_argument_group("the design")
    src.add_argument("--board", metavar="NAME",
                     help="a board's default design at its target clock (see 'systolic boards')")
    src.add_argument("--from-build", metavar="BUILD.json",
                     help="the JSON printed by 'systolic build --json' (MACs, clock, device)")
    src.add_argument("--clock-mhz", type=parse_positive, metavar="F",
                     help="clock in MHz (required with array options; with --board or --from-build "
                          "it replaces the design's clock)")
    src.add_argument("--baud", type=parse_positive, metavar="B",
                     help="serial link rate for link_gops (default: the board's or the build's; "
                          "1000000 for array options)")
    add_gemm_option(src)
    add_array_options(parser)
    add_engine_options(parser)
    money = parser.add_argument_group("per dollar and per watt")
    money.add_argument("--device", type=parse_device, metavar="NAME",
                       help="with array options: the FPGA whose catalog price the ops/s per dollar "
                            "uses (the smallest device of its family that holds the array)")
    money.add_argument("--price", type=parse_money, metavar="USD",
                       help="price of the part running the design (replaces the catalog price)")
    money.add_argument("--power", type=parse_positive, metavar="W",
                       help="power of the design in watts, for ops/s per watt")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)
    return parser


def _price(args, design):
    if args.price is not None:
        return args.price, "command line (--price)", design["device"] if design else None
    if design is None:
        return None, "no device (give --device NAME or --price USD)", None
    price, source = cost.device_price(design["device"])
    return price, source, design["device"]


def _given_design_options(args):
    given = [f"--{name.replace('_', '-')}" for name in engine_options(args)]
    if array_options(args):
        given.append("array options")
    return given + (["--device"] if args.device else [])


def _board_design(args):
    """``(array, engine, clock MHz, clock source, baud, design)`` of ``--board``."""
    from ..boards.design import resolve_build
    from ..boards.platforms import UnknownBoardError, board as get_board
    try:
        board = get_board(args.board)
    except UnknownBoardError as exc:
        raise UsageError(str(exc)) from None
    design = resolve_build(board)
    if args.clock_mhz is not None:
        clock, source = args.clock_mhz, "command line (--clock-mhz)"
    else:
        clock, source = board.default_clk_hz / 1e6, f"{board.name}'s target clock (not built)"
    return design.engine.array, design.engine, clock, source, design.baud, {"device": board.device}


def run(args):
    """Run ``systolic report`` with parsed ``args``; return the exit status."""
    sources = [name for name, given in (("--board", args.board), ("--from-build", args.from_build))
               if given]
    if len(sources) > 1:
        raise UsageError("give --board or --from-build, not both")
    if sources and _given_design_options(args):
        raise UsageError(f"{sources[0]} excludes {', '.join(_given_design_options(args))}: it "
                         f"describes the design and its device")
    design = None
    baud = args.baud
    if args.board:
        config, engine, clock, clock_source, board_baud, design = _board_design(args)
        macs = config.macs
        baud = board_baud if baud is None else baud
    elif args.from_build:
        build = load_build(args.from_build)
        config = build_config(build)
        engine = EngineConfig.from_dict(build["engine"]) if build.get("engine") else None
        macs = build["macs"]
        clock, clock_source = build_clock(build, args.clock_mhz)
        baud = build.get("baud") if baud is None else baud
        try:
            design = cost.design_from_build(build)
        except cost.CostInputError as exc:
            raise UsageError(str(exc)) from None
    else:
        from ..rtl.protocol import DEFAULT_BAUD
        config = config_from_args(args)
        engine = engine_config_from_args(args, config)
        if args.clock_mhz is None:
            raise UsageError("--clock-mhz F is required with array options (or give --board or "
                             "--from-build)")
        macs, clock, clock_source = config.macs, args.clock_mhz, "command line (--clock-mhz)"
        baud = DEFAULT_BAUD if baud is None else baud
        if args.device:
            try:
                design = cost.design_from_config(config, args.device)
            except cost.CostInputError:
                design = None
    price, price_source, device = _price(args, design)
    if args.device and design is None and args.price is None:
        price_source = f"the array does not fit any device of {args.device}'s family"
    row = design_row(macs=macs, clock_mhz=clock, clock_source=clock_source, price_usd=price,
                     price_source=price_source, power_w=args.power, device=device, config=config)
    result = report(row)
    if engine is not None:
        gemm = check_gemm_option(engine, args.gemm)
        figures = throughput(engine, clock * 1e6, gemm=gemm, baud=baud)
        row.update(figures)
        result.update({key: figures[key] for key in ("peak_gops", "sustained_gops",
                                                     "sustained_efficiency", "link_gops")})
        result["engine"] = engine.to_dict()
    if args.json:
        print_json(result)
    else:
        print("\n".join(render(result)))
    return 0


def render(result):
    """Return the text lines of a :func:`report`."""
    design = result["design"]
    lines = [f"{'':28} {'peak':>12} {'per $':>14} {'per W':>14}  price, power"]
    for row in [design, *result["reference"]]:
        price = "-" if row["price_usd"] is None else f"${row['price_usd']:,.2f}"
        power = "-" if row["power_w"] is None else f"{row['power_w']:g} W"
        lines.append(f"{row['name'][:28]:28} {format_ops(row['peak_ops_per_s']):>12} "
                     f"{format_ops(row['ops_per_s_per_usd'], '/$'):>14} "
                     f"{format_ops(row['ops_per_s_per_w'], '/W'):>14}  {price}, {power}")
    sustained = design.get("sustained")
    if sustained:
        gemm = "x".join(str(sustained["gemm"][d]) for d in "mkn")
        if design["sustained_gops"] is None:
            lines += ["", f"this design on a {gemm} GEMM: not timed ({sustained['note']})"]
        else:
            link = sustained.get("link")
            jobs = f"{sustained['jobs']} engine job{'s' if sustained['jobs'] != 1 else ''}"
            lines += ["", f"this design on a {gemm} GEMM ({jobs}, {sustained['total_cycles']:,} "
                          f"cycles at {sustained['clock_mhz']:g} MHz):",
                      f"  peak       {design['peak_gops']:10.3f} GOPS",
                      f"  sustained  {design['sustained_gops']:10.3f} GOPS  "
                      f"({design['sustained_efficiency']:.1%} of peak, first operand load "
                      f"included)"]
            if link:
                lines.append(f"  over link  {design['link_gops']:10.4f} GOPS  "
                             f"({link['bytes_to_board']:,} bytes to the board, "
                             f"{link['bytes_from_board']:,} back, {link['exchanges']:,} exchanges "
                             f"at {link['baud']:,.0f} baud)")
    lines += ["", "Sources:",
              f"  this design: {design['source']}; clock: {design['clock_source']}; "
              f"device: {design['device'] or 'none'}; price: {design['price_source']}; "
              f"power: {design['power_source']}"]
    for row in result["reference"]:
        lines.append(f"  {row['name']} ({row['precision']}): {row['source']}")
    return lines
