"""``systolic simulate``: run a GEMM on the simulated hardware and check it against numpy."""

import numpy as np

from ..sim.runner import BACKENDS, BackendUnavailable
from .errors import UsageError
from .operands import add_operand_options, operands_from_args
from .options import add_array_options, config_from_args
from .output import atomic_path, print_json, progress


def register(subparsers):
    parser = subparsers.add_parser(
        "simulate", help="run a GEMM on the simulated RTL and compare with the numpy model",
        description="Run C = A x B on the simulated array (one pass per R x C output tile) and "
                    "check the result bit for bit, and the cycle count exactly, against the "
                    "numpy reference model. Exit status 0 on a match, 1 on a mismatch, 2 on "
                    "bad input.")
    add_array_options(parser)
    add_operand_options(parser)
    parser.add_argument("--backend", choices=BACKENDS, default="amaranth",
                        help="simulator (default amaranth)")
    parser.add_argument("--out", metavar="C.npy", help="write the hardware's result here")
    parser.add_argument("--vcd", metavar="FILE", help="write a waveform of the run")
    parser.add_argument("--fst", metavar="FILE", help="write an FST waveform (backends that support it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def simulate_and_check(config, a, b, *, backend="amaranth", vcd=None, fst=None):
    """Run the GEMM on ``backend`` and compare with the model; return ``(run, report dict)``."""
    from ..sim.model import matmul, gemm_cycles, ideal_cycles
    from ..sim.runner import run_gemm
    m, k = a.shape
    n = b.shape[1]
    try:
        run = run_gemm(config, a, b, backend=backend, vcd=vcd, fst=fst)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    expected = matmul(a, b, config)
    ideal = ideal_cycles(m, k, n, config)
    report = {
        "match": bool(np.array_equal(run.result, expected)),
        "cycles": run.cycles,
        "model_cycles": gemm_cycles(m, k, n, config),
        "ideal_cycles": ideal,
        "efficiency": ideal / run.cycles,
        "backend": run.backend,
        "wall_s": run.wall_s,
        "build_s": run.build_s,
        "sim_macs_per_s": m * n * k / run.wall_s if run.wall_s > 0 else None,
        "m": m, "k": k, "n": n,
        "config": config.to_dict(),
    }
    report["cycles_match"] = report["cycles"] == report["model_cycles"]
    return run, report


def run(args):
    config = config_from_args(args)
    a, b = operands_from_args(args, config)
    progress(f"simulating {a.shape[0]}x{a.shape[1]} @ {b.shape[0]}x{b.shape[1]} on "
             f"{config.describe()} ({args.backend})", quiet=args.json)
    if args.backend != "amaranth":
        progress(f"compiling the Verilog with {args.backend} (a minute for big arrays the first "
                 f"time; reused while the design does not change)", quiet=args.json)
    run_, report = simulate_and_check(config, a, b, backend=args.backend, vcd=args.vcd, fst=args.fst)
    if args.out:
        with atomic_path(args.out) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, run_.result)
    ok = report["match"] and report["cycles_match"]
    if args.json:
        print_json(report)
    else:
        print(f"result:  {'matches' if report['match'] else 'DIFFERS FROM'} the numpy model")
        print(f"cycles:  {report['cycles']} (model {report['model_cycles']}, "
              f"ideal {report['ideal_cycles']:.1f}, efficiency {report['efficiency']:.3f})")
        print(f"backend: {report['backend']}, {report['wall_s']:.2f} s simulated, "
              f"{report['build_s']:.2f} s to build")
    return 0 if ok else 1
