"""``systolic demo``: the end-to-end tour on the default design."""

from pathlib import Path

from ..rtl.config import ArrayConfig
from ..rtl.engine_config import EngineConfig
from .numbers import seed_type
from .output import check_output, write_atomic

DEFAULT_DIR = "build/demo"


def register(subparsers):
    parser = subparsers.add_parser(
        "demo", help="generate a default array, run a GEMM in simulation, check it, and cost it",
        description="Generate the default 4x4 int8 array as Verilog, run a random GEMM on the "
                    "GEMM engine built around it in simulation, compare the result and the cycle "
                    "count with the numpy model, "
                    "and weigh the design on an iCE40 UP5K against an ASIC (writes a plot).")
    parser.add_argument("--out", default=DEFAULT_DIR, metavar="DIR",
                        help=f"directory for the files the demo writes (default {DEFAULT_DIR})")
    parser.add_argument("--seed", type=seed_type, default=1, help="random seed of the operands (default 1)")
    parser.set_defaults(func=run)


def run(args):
    from ..rtl.array import SystolicArray
    from ..rtl.verilog import to_verilog
    from .cmd_cost import summarize
    from .cmd_simulate import simulate_engine_and_check
    from .operands import random_operands

    out = Path(args.out)
    verilog_path = check_output(out / "systolic_array.v", "--out")
    plot_path = check_output(out / "cost.png", "--out")
    config = ArrayConfig()
    print(f"[1/3] design: {config.describe()}")
    write_atomic(verilog_path, to_verilog(SystolicArray(config), "systolic_array"))
    print(f"      Verilog written to {verilog_path}")

    m, k, n = 12, 32, 10
    engine = EngineConfig(config)
    a, b = random_operands(m, k, n, config, seed=args.seed)
    print(f"[2/3] GEMM {m}x{k} @ {k}x{n} on the GEMM engine ({engine.describe()}) "
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

    device = "iCE40UP5K"
    print(f"[3/3] cost: this design on an {device} against an ASIC")
    for line in summarize(config=config, device=device, plot_path=plot_path):
        print(f"      {line}")

    ok = report["match"] and report["cycles_match"]
    print("next:  `systolic infer --virtual` classifies handwritten digits with an int8 MLP whose "
          "GEMMs run on a virtual board;")
    print("       `systolic workload mobilenetv2 --clock-mhz 30` takes a whole network (or a "
          "SCALE-Sim CSV, or an ONNX model) through the engine's cycle model")
    print("demo: OK" if ok else "demo: FAILED")
    return 0 if ok else 1
