"""``systolic run``: a GEMM through the driver, on a board or a virtual board, checked against numpy."""

import sys
import time

import numpy as np

from .channel import BITS_PER_BYTE
from .errors import UsageError
from .link_options import add_board_options, add_link_options, check_link_args, connect, link_baud
from .numbers import count_type, seed_type
from .operands import DIM_MAX
from .options import engine_config_from_args
from .output import print_json, progress

__all__ = ["register", "throughput_report", "uart_estimate", "result_line"]


def register(subparsers):
    parser = subparsers.add_parser(
        "run", help="run a random GEMM on a board (or a virtual one) through the driver",
        description="Compute C = A x B for random operands on a board over its serial port "
                    "(--port) or on a virtual board (--virtual: the board core on Verilator "
                    "behind a pseudo-terminal), check C against numpy and report bytes on the "
                    "wire and throughput. The design is read from the board (INFO); the array "
                    "and engine options describe the virtual board only. Exit status 0 on a "
                    "match, 1 on a mismatch or a board failure, 2 on bad input.")
    add_link_options(parser)
    gemm = parser.add_argument_group("GEMM")
    dim = count_type(1, DIM_MAX)
    gemm.add_argument("--m", type=dim, required=True, help="rows of A")
    gemm.add_argument("--k", type=dim, required=True, help="columns of A, rows of B")
    gemm.add_argument("--n", type=dim, required=True, help="columns of B")
    gemm.add_argument("--seed", type=seed_type, default=0, help="random seed of the operands (default 0)")
    add_board_options(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(func=run)


def throughput_report(m, k, n, wall_s, before, after, baud):
    """Bytes and rates of one GEMM from driver statistics taken before and after it.

    ``line_rate_fraction`` relates the payload bytes a second to what one direction of an
    8N1 line at ``baud`` carries; the protocol waits for each reply before the next request,
    so at most one direction is busy at a time and 1.0 is the ceiling. ``None`` without a
    baud, and when the bytes moved faster than the baud allows (a pseudo-terminal, whatever
    rate it was opened at, has no line rate).
    """
    delta = {key: after[key] - before[key] for key in after if isinstance(after[key], int)}
    payload = delta["payload_out"] + delta["payload_in"]
    wire = delta["bytes_out"] + delta["bytes_in"]
    macs = m * k * n
    report = {
        "bytes_to_board": delta["bytes_out"],
        "bytes_from_board": delta["bytes_in"],
        "payload_to_board": delta["payload_out"],
        "payload_from_board": delta["payload_in"],
        "payload_fraction_of_wire": payload / wire if wire else None,
        "exchanges": delta["exchanges"],
        "retries": delta["retries"],
        "wall_s": wall_s,
        "macs": macs,
        "macs_per_s": macs / wall_s if wall_s > 0 else None,
        "gmac_per_s": macs / wall_s / 1e9 if wall_s > 0 else None,
        "payload_bytes_per_s": payload / wall_s if wall_s > 0 else None,
        "baud": baud,
        "line_rate_fraction": None,
    }
    if baud and wall_s > 0:
        fraction = payload / wall_s / (baud / BITS_PER_BYTE)
        # More than the line can carry: not a UART at that rate (a pseudo-terminal, say).
        report["line_rate_fraction"] = fraction if fraction <= 1 else None
    return report


def uart_estimate(report, baud, turnaround_s=0.0):
    """Seconds the same bytes would take on an 8N1 UART at ``baud``, and the payload fraction.

    Each exchange adds ``turnaround_s`` (the USB-serial adapter's latency, the board's
    reaction); with 0 this is the protocol's own ceiling.
    """
    wire = report["bytes_to_board"] + report["bytes_from_board"]
    payload = report["payload_to_board"] + report["payload_from_board"]
    seconds = wire * BITS_PER_BYTE / baud + report["exchanges"] * turnaround_s
    return {"baud": baud, "turnaround_s": turnaround_s, "seconds": seconds,
            "line_rate_fraction": payload * BITS_PER_BYTE / baud / seconds if seconds else None,
            "macs_per_s": report["macs"] / seconds if seconds else None}


def run(args):
    from ..sim.engine_tiling import JobError, plan_jobs
    from .driver import AcceleratorError
    check_link_args(args)
    if args.virtual and args.no_tiling:
        # The virtual design is known now: refuse before building and starting it.
        try:
            plan_jobs(args.m, args.k, args.n, engine_config_from_args(args), tiling=False)
        except JobError as exc:
            raise UsageError(str(exc)) from None
    try:
        report = _run_gemm(args)
    except JobError as exc:
        raise UsageError(str(exc)) from None
    except AcceleratorError as exc:
        print(f"systolic run: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print_json(report)
    else:
        _print_text(report)
    return 0 if report["match"] else 1


def _run_gemm(args):
    """Connect, run the GEMM, check it; return the report dict."""
    from ..sim.engine_model import engine_matmul
    from .operands import random_operands
    started = time.perf_counter()
    with connect(args) as acc:
        acc.reset()     # the engine's clean-up, kept out of the measured GEMM
        setup_s = time.perf_counter() - started
        config = acc.config
        a, b = random_operands(args.m, args.k, args.n, config.array, args.seed)
        progress(f"{args.m}x{args.k} @ {args.k}x{args.n} on {config.describe()}", quiet=args.json)
        before = acc.stats()
        started = time.perf_counter()
        result = acc.matmul(a, b, tiling=not args.no_tiling)
        wall_s = time.perf_counter() - started
        after = acc.stats()
    baud = link_baud(args) if args.port is not None else None
    report = {"match": bool(np.array_equal(result, engine_matmul(a, b, config))),
              # Equal to `match` unless the design's accumulator overflows on these operands.
              "numpy_exact": bool(np.array_equal(result, _exact_product(a, b))),
              "m": args.m, "k": args.k, "n": args.n, "seed": args.seed,
              "target": args.port or "virtual", "setup_s": setup_s, "config": config.to_dict(),
              **throughput_report(args.m, args.k, args.n, wall_s, before, after, baud)}
    if args.port is None:
        report["uart_estimate"] = uart_estimate(report, link_baud(args))
    return report


def _exact_product(a, b):
    """``A @ B`` without overflow: in int64 when no sum can leave it, else in Python ints."""
    bound = int(np.abs(a).max()) * int(np.abs(b).max()) * a.shape[1]
    if bound < 1 << 63:
        return a.astype(np.int64) @ b.astype(np.int64)
    return a.astype(object) @ b.astype(object)


def result_line(report):
    """Say what the board's result matched: the design's model and exact ``A @ B`` can differ
    when the accumulator overflows (wraps or saturates) on these operands."""
    gemm = f"{report['m']}x{report['k']}x{report['n']}, seed {report['seed']}"
    if not report["match"]:
        return f"DIFFERS FROM the design's numpy model ({gemm})"
    if report["numpy_exact"]:
        return f"matches numpy's exact A @ B and the design's model ({gemm})"
    acc = report["config"]["acc_width"]
    return (f"matches the design's numpy model, which differs from the exact A @ B: the "
            f"{acc}-bit accumulator overflows on these operands ({gemm})")


def _print_text(report):
    print(f"result:     {result_line(report)}")
    print(f"wire:       {report['bytes_to_board']:,} bytes to the board, "
          f"{report['bytes_from_board']:,} back; {report['exchanges']} exchanges, "
          f"{report['retries']} retries")
    print(f"time:       {report['wall_s']:.3f} s, {report['macs_per_s']:,.0f} MAC/s, "
          f"{report['payload_bytes_per_s']:,.0f} payload bytes/s")
    if report["line_rate_fraction"] is not None:
        print(f"line rate:  {report['line_rate_fraction']:.1%} of {report['baud']:,} baud "
              f"carried payload")
    elif report["baud"]:
        print(f"line rate:  faster than {report['baud']:,} baud allows: the port is not a UART "
              f"at that rate (a pseudo-terminal?), so no share of it is given")
    if "uart_estimate" in report:
        estimate = report["uart_estimate"]
        print(f"on a UART:  {estimate['seconds']:.3f} s at {estimate['baud']:,} baud for these "
              f"bytes ({estimate['line_rate_fraction']:.1%} payload), not counting adapter latency")
