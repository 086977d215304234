"""``systolic demo``: the end-to-end tour, from a numpy GEMM to a bitstream and its cost.

numpy GEMM -> the RTL simulated and checked against the numpy model -> a real build for a
small board (bitstream, resources, Fmax, peak GOPS) -> the FPGA-against-ASIC breakeven from
that build's own report. ``--quick`` skips the build and costs the design from an estimate.
"""

import json
from pathlib import Path

from ..rtl.config import ArrayConfig
from ..rtl.engine.config import EngineConfig
from .numbers import seed_type
from .output import check_output, write_atomic

DEFAULT_DIR = "build/demo"
#: The board the demo builds for: the iCEBreaker's default engine is the quickest real build.
DEFAULT_BOARD = "icebreaker"
STEPS = 4


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="from a numpy GEMM to verified RTL, a bitstream and its cost",
        description="Generate the default 4x4 int8 array as Verilog, run a random GEMM on the "
                    "GEMM engine built around it in simulation and compare the result and the "
                    "cycle count with the numpy model, build the engine for a board with the "
                    "open toolchain (progress by stage on stderr; the iCEBreaker takes a minute "
                    "or two), and weigh that build against an ASIC from its own report (writes "
                    "a plot). --quick skips the build and costs an estimate instead.")
    parser.add_argument("--out", default=DEFAULT_DIR, metavar="DIR",
                        help=f"directory for the files the demo writes (default {DEFAULT_DIR})")
    parser.add_argument("--seed", type=seed_type, default=1, help="random seed of the operands (default 1)")
    parser.add_argument("--board", default=DEFAULT_BOARD, metavar="NAME",
                        help=f"board to build for (default {DEFAULT_BOARD}; see 'systolic boards')")
    parser.add_argument("--quick", action="store_true",
                        help="skip the board build: a one-minute tour, costed from an estimate")
    parser.set_defaults(func=run)


def _step(number, text):
    print(f"[{number}/{STEPS}] {text}", flush=True)


def _build(board, out):
    """Run ``systolic build --board BOARD --out OUT`` as a user would; return
    ``(status, report or None)``."""
    from .build_report import REPORT_NAME
    from .cli import main
    status = main(["build", "--board", board, "--out", str(out)])
    report_path = out / REPORT_NAME
    if status != 0 or not report_path.is_file():
        return status or 1, None
    return 0, json.loads(report_path.read_text())


def _throughput(report):
    lines = [f"peak {report['peak_gops']:g} GOPS"]
    if report.get("sustained_gops") is not None:
        lines.append(f"sustained {report['sustained_gops']:.3g} GOPS")
    return ", ".join(lines)


def run(args):
    from ..boards.platforms import board as get_board, UnknownBoardError
    from ..rtl.array import SystolicArray
    from ..rtl.verilog import to_verilog
    from .checked_run import simulate_engine_and_check
    from .cost.text import summarize
    from .errors import UsageError
    from .operands import random_operands

    try:
        board = get_board(args.board)
    except UnknownBoardError as exc:
        raise UsageError(f"--board: {exc}") from None
    out = Path(args.out)
    verilog_path = check_output(out / "systolic_array.v", "--out")
    plot_path = check_output(out / "cost.png", "--out")
    config = ArrayConfig()
    _step(1, f"design: {config.describe()}")
    write_atomic(verilog_path, to_verilog(SystolicArray(config), "systolic_array"))
    print(f"      Verilog written to {verilog_path}")

    m, k, n = 12, 32, 10
    engine = EngineConfig(config)
    a, b = random_operands(m, k, n, config, seed=args.seed)
    _step(2, f"GEMM {m}x{k} @ {k}x{n} on the GEMM engine ({engine.describe()}) "
             f"in the Amaranth simulator ...")
    _run, report = simulate_engine_and_check(engine, a, b)
    verdict = "MATCH" if report["match"] else "MISMATCH"
    print(f"      result vs numpy: {verdict}")
    tiles = -(-m // config.rows) * -(-n // config.cols)
    jobs = "one job" if report["jobs"] == 1 else f"{report['jobs']} jobs"
    print(f"      cycles: {report['cycles']} measured, {report['model_cycles']} predicted by the "
          f"model, {report['ideal_cycles']:.0f} ideal (efficiency {report['efficiency']:.2f}: "
          f"{tiles} tile passes back to back in {jobs}, plus the START command, "
          f"the pipeline fill and the result drain)")
    ok = report["match"] and report["cycles_match"]

    build = None
    if args.quick:
        _step(3, f"bitstream: skipped (--quick); 'systolic build --board {board.name}' makes it")
    else:
        _step(3, f"bitstream: the board's default engine for {board.title} ({board.device}), "
                 f"Yosys + nextpnr from PyPI (progress on stderr)")
        status, build = _build(board.name, out / board.name)
        if build is None:
            print(f"demo: FAILED (the build for {board.name} did not finish)")
            return status
        print(f"      {_throughput(build)} at {min(build['fmax_mhz'], build['target_mhz']):g} "
              f"MHz; report {build['report']}")

    if build is not None:
        _step(4, f"cost: this build ({build['device']}, from {build['report']}) against an ASIC")
        lines = summarize(build=build, plot_path=plot_path)
    else:
        device = board.device
        _step(4, f"cost: this design on an {device} (an estimate, no build) against an ASIC")
        lines = summarize(config=config, device=device, plot_path=plot_path)
    for line in lines:
        print(f"      {line}")

    print("next:  `systolic infer --virtual` classifies handwritten digits with an int8 MLP whose "
          "GEMMs run on a virtual board;")
    print("       `systolic workload mobilenetv2 --clock-mhz 30` takes a whole network (or a "
          "SCALE-Sim CSV, or an ONNX model) through the engine's cycle model")
    print("demo: OK" if ok else "demo: FAILED")
    return 0 if ok else 1
