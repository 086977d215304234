"""``systolic simulate``: run a GEMM on the simulated hardware and check it against numpy.

Two targets: the GEMM engine (the default: the array with its operand and result buffers,
driven by command words, host-tiled when the GEMM is larger than the buffers) and the bare
array (one pass per output tile, operands streamed straight in).
"""

import numpy as np

from contextlib import ExitStack

from ..rtl.config import DATAFLOWS
from ..sim.backends.runner import BACKENDS, check_backend
from ..sim.errors import BackendUnavailable
from .errors import UsageError
from .checked_run import check_fits, simulate_and_check, simulate_engine_and_check
from .estimate import LIMIT_S, SHOW_S, check_simulation
from .operands import add_operand_options, operands_from_args
from .options import (add_array_options, add_engine_options, add_gemm_option, check_gemm_option,
                      config_from_args, engine_config_from_args, engine_options)
from .output import (Heartbeat, atomic_path, check_output, format_duration, print_json,
                     progress)

#: Widest accumulator whose results fit a .npy integer type (int64).
NPY_ACC_MAX = 64

#: What ``--target`` may name.
TARGETS = ("engine", "array")
#: The clock of ``simulate``'s GOPS figures unless ``--clock-mhz`` says otherwise.
DEFAULT_CLOCK_MHZ = 100.0


def register(subparsers):
    parser = subparsers.add_parser(
        "simulate", help="run a GEMM on the simulated RTL and compare with the numpy model",
        description="Run C = A x B on the simulated GEMM engine (or, with --target array, on the "
                    "bare array, one pass per R x C output tile) and check the result bit for "
                    "bit, and the cycle count exactly, against the numpy model. Exit status 0 "
                    "on a match, 1 on a mismatch, 2 on bad input.")
    add_array_options(parser, dataflows=(*DATAFLOWS, "auto"))
    add_engine_options(parser)
    add_operand_options(parser)
    parser.add_argument("--target", choices=TARGETS, default="engine",
                        help="what to simulate: the GEMM engine (default) or the bare array")
    parser.add_argument("--backend", choices=BACKENDS, default="amaranth",
                        help="simulator (default amaranth)")
    parser.add_argument("--out", metavar="C.npy", help="write the hardware's result here")
    wave = parser.add_mutually_exclusive_group()
    wave.add_argument("--vcd", metavar="FILE", help="write a waveform of the run")
    wave.add_argument("--fst", metavar="FILE", help="write an FST waveform (backends that support it)")
    parser.add_argument("--force", action="store_true",
                        help=f"run even when the estimate is above {format_duration(LIMIT_S)} "
                             f"(the estimate comes from the cycle model and the backend's speed)")
    figures = parser.add_argument_group(
        "throughput (engine only): peak, sustained on the reference GEMM, over a serial link")
    add_gemm_option(figures)
    figures.add_argument("--clock-mhz", type=float, default=DEFAULT_CLOCK_MHZ, metavar="F",
                         help=f"the clock the GOPS figures assume (default {DEFAULT_CLOCK_MHZ:g})")
    figures.add_argument("--baud", type=int, default=None, metavar="B",
                         help="the serial link rate link_gops assumes (default 1000000)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def _engine_options_given(args):
    given = [f"--{name.replace('_', '-')}" for name in engine_options(args)]
    return given + (["--no-tiling"] if args.no_tiling else [])


def _outputs(args, config):
    """Check every output path now, before the simulation: ``(out, wave)`` as
    :class:`~systolic.host.output.Output` or ``None``."""
    inputs = [("--a", args.a), ("--b", args.b)]
    out = wave = None
    if args.out is not None:
        if config.acc_width > NPY_ACC_MAX:
            raise UsageError(f"--out: a {config.acc_width}-bit accumulator's results do not fit "
                             f"a .npy integer type (at most {NPY_ACC_MAX} bits); use "
                             f"--acc-width {NPY_ACC_MAX} or less, or drop --out")
        out = check_output(args.out, "--out", inputs=inputs, stdout=False)
        inputs.append(("--out", args.out))
    wave_option, wave_path = ("--vcd", args.vcd) if args.vcd is not None else ("--fst", args.fst)
    if wave_path is not None:
        wave = check_output(wave_path, wave_option, inputs=inputs, stdout=False)
    return out, wave


def run(args):
    # ``auto`` is settled once the GEMM's shape is known; until then the design is the default
    # dataflow's (the checks before that do not depend on it).
    auto = args.dataflow == "auto"
    if auto:
        args.dataflow = None
    config = config_from_args(args)
    if not args.clock_mhz > 0 or (args.baud is not None and args.baud <= 0):
        raise UsageError(f"--clock-mhz and --baud must be positive, got {args.clock_mhz:g} and "
                         f"{args.baud}")
    if args.target == "engine":
        engine = engine_config_from_args(args, config)
    else:
        given = _engine_options_given(args)
        if given:
            raise UsageError(f"{', '.join(given)} only apply to --target engine")
        engine = None
    out, wave = _outputs(args, config)
    if engine:
        gemm = check_gemm_option(engine, args.gemm)
    if args.a is None:
        # Random operands: refuse a run too long or too big before making them.
        check_simulation(engine or config, args.m, args.k, args.n, backend=args.backend,
                         target=args.target, force=args.force)
    a, b = operands_from_args(args, config)
    m, k, n = a.shape[0], a.shape[1], b.shape[1]
    choice = None
    if auto:
        from .auto_dataflow import choose_dataflow, with_dataflow
        choice = choose_dataflow(engine or config, m, k, n)
        config = with_dataflow(config, choice.chosen)
        engine = engine and with_dataflow(engine, choice.chosen)
        progress(f"--dataflow auto: {choice.reason}", quiet=args.json)
    estimate = check_simulation(engine or config, m, k, n, backend=args.backend,
                                target=args.target, force=args.force)
    # Everything that makes bad input is found before the progress lines, so that it is
    # reported in one line.
    if engine and args.no_tiling:
        check_fits(engine, m, k, n)
    try:
        check_backend(args.backend, fst=args.fst)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    design = engine.describe() if engine else config.describe()
    progress(f"simulating {m}x{k} @ {k}x{n} on the {args.target}: {design} ({args.backend})",
             quiet=args.json)
    if args.backend != "amaranth":
        progress(f"compiling the {args.target}'s Verilog with {args.backend} (a minute or more "
                 f"the first time; reused while the design does not change)", quiet=args.json)
    if estimate.seconds > SHOW_S:
        progress(f"{estimate.cycles:,} cycles: about {format_duration(estimate.seconds)} of "
                 f"simulation", quiet=args.json)
    with ExitStack() as stack:
        wave_tmp = stack.enter_context(atomic_path(wave)) if wave is not None else None
        waves = {"vcd": wave_tmp if args.vcd is not None else None,
                 "fst": wave_tmp if args.fst is not None else None}
        with Heartbeat("simulating", estimate.seconds, quiet=args.json):
            if engine:
                run_, report = simulate_engine_and_check(engine, a, b, backend=args.backend,
                                                         tiling=not args.no_tiling, **waves)
            else:
                run_, report = simulate_and_check(config, a, b, backend=args.backend, **waves)
                report.update(target="array", engine=None, jobs=None)
        if wave_tmp is not None and wave_tmp.stat().st_size == 0:
            raise UsageError(f"{wave.option} {wave.path}: the {args.backend} simulator wrote "
                             f"no waveform")
        if engine:
            from ..rtl.protocol import DEFAULT_BAUD
            from .throughput import throughput
            report.update(throughput(engine, args.clock_mhz * 1e6, gemm=gemm,
                                     baud=DEFAULT_BAUD if args.baud is None else args.baud))
        if out is not None:
            with atomic_path(out) as tmp:
                with open(tmp, "wb") as f:
                    np.save(f, np.asarray(run_.result,
                                           dtype=np.int64 if config.signed else np.uint64))
    ok = report["match"] and report["cycles_match"]
    if choice is not None:
        report["auto_dataflow"] = choice.to_dict()
    if args.json:
        print_json(report)
    else:
        print(f"result:  {'matches' if report['match'] else 'DIFFERS FROM'} the numpy model")
        if engine and report["match"] != report["matmul_match"]:
            print("         (but not the array's one-pass model: the engine's K chunks changed "
                  "the result)")
        print(f"cycles:  {report['cycles']} (model {report['model_cycles']}, "
              f"ideal {report['ideal_cycles']:.1f}, efficiency {report['efficiency']:.3f})")
        if choice is not None:
            print(f"dataflow: {choice.reason}")
        if engine:
            print(f"engine:  {report['jobs']} job{'s' if report['jobs'] != 1 else ''}; "
                  f"{engine.describe()}")
        if report.get("sustained_gops") is not None:
            gemm = "x".join(str(report["sustained"]["gemm"][d]) for d in "mkn")
            print(f"GOPS:    peak {report['peak_gops']:.3f}, sustained {report['sustained_gops']:.3f} "
                  f"({report['sustained_efficiency']:.1%}) on {gemm} at {args.clock_mhz:g} MHz, "
                  f"{report['link_gops']:.4f} over a {report['sustained']['link']['baud']:,} baud "
                  f"link")
        print(f"backend: {report['backend']}, {report['wall_s']:.2f} s simulated, "
              f"{report['build_s']:.2f} s to build")
    return 0 if ok else 1
