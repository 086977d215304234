"""``systolic sweep``: many designs on many boards, evaluated, stored, and drawn as Pareto fronts.

The points are the product of the axes given on the command line (``--rows 4,8,16 --cols 8,16
--board icebreaker,ulx3s-85f --clock-mhz 100,150 --seed 1,2,3 ...``) or in a TOML plan (see
:func:`~systolic.host.sweep.space.load_plan`). Each point gets the engine model's figures and,
with ``--build``, a real build (:mod:`.sweep.point`), on local worker processes or a Dask
cluster (:mod:`.sweep.executors`); each record is stored under ``--out`` as it finishes
(:mod:`.sweep.store`), and the fronts and ``sweep.html`` are drawn at the end
(:mod:`.sweep.report`).
"""

import base64
import os
import sys
from pathlib import Path

from .errors import UsageError
from .interrupt import terminate_as_interrupt
from .options import BATCH_MAX
from .output import print_json

__all__ = ["register", "run"]


def register(subparsers):
    from .cost_options import parse_device_price
    from .sweep.space import AXES, DEFAULT_GEMM
    parser = subparsers.add_parser(
        "sweep", help="evaluate and build many designs: Pareto fronts of GOPS, LUTs and dollars",
        description="Sweep the design space: every combination of the axes (on the command line "
                    "as comma-separated lists, or in a TOML plan) is a point; each gets the "
                    "engine model's peak and sustained GOPS and buffer sizes, and with --build a "
                    "real build (fits, resources, Fmax, timing, build time). Points run on local "
                    "worker processes (--jobs) or a Dask cluster (--scheduler); each record is "
                    "stored under --out as it finishes, so an interrupted sweep keeps them and "
                    "--resume runs only the rest. Ends with the Pareto fronts as PNG and a "
                    "self-contained sweep.html. Exit status 0 when every point has an answer "
                    "(invalid and not-fitting points are answers), 1 when a point failed, 2 on "
                    "bad input, 130 when interrupted.")
    parser.add_argument("plan", nargs="?", metavar="PLAN.toml",
                        help="a TOML plan: the axes as keys (rows = [4, 8]), optionally "
                             "gemm = [M, K, N] and [[group]] tables, each a product of its own "
                             "(the sweep is their union); axes given on the command line "
                             "replace the plan's everywhere")
    axes = parser.add_argument_group("axes (comma-separated values; unset: the board's default)")
    for axis in AXES:
        axes.add_argument(axis.flag, dest=f"axis_{axis.name}", metavar=axis.metavar,
                          help=axis.help)
    what = parser.add_argument_group("what each point gets")
    what.add_argument("--gemm", metavar="M,K,N",
                      help=f"the GEMM whose sustained throughput the model gives "
                           f"(default {','.join(map(str, DEFAULT_GEMM))})")
    what.add_argument("--workload", metavar="FILE",
                      help="instead of --gemm: a network (SCALE-Sim topology CSV, ONNX model or "
                           "a shipped topology's name, as 'systolic workload' reads it); the "
                           "sustained figure is all its layers' operations over their cycles")
    what.add_argument("--batch", type=int, metavar="B",
                      help=f"with --workload: inferences a pass, 1 to {BATCH_MAX} (default 1)")
    what.add_argument("--build", action="store_true",
                      help="build every point with Yosys + nextpnr (minutes each)")
    what.add_argument("--timeout", type=float, metavar="S", help="seconds any one tool may run")
    what.add_argument("--device-price", type=parse_device_price, action="append",
                      metavar="DEVICE=USD", help="a device price for the price front, over the "
                                                 "catalog's (repeatable)")
    run_group = parser.add_argument_group("where the points run")
    run_group.add_argument("--jobs", type=int, metavar="N",
                           help=f"local worker processes (default: the core count, "
                                f"{os.cpu_count()})")
    run_group.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                           help="run the points on this Dask scheduler's workers instead "
                                "(see the README, 'Sweeps')")
    run_group.add_argument("--worker-dir", metavar="DIR",
                           help="with --scheduler: where each worker builds, on its own machine "
                                "(default: systolic-sweep in its temporary directory)")
    run_group.add_argument("--bitstreams", action="store_true",
                           help="with --scheduler: bring each bitstream back under "
                                "--out/builds/ (the reports always come back)")
    store = parser.add_argument_group("results")
    store.add_argument("--out", metavar="DIR", default="build/sweep",
                       help="the store: points/<id>.json, builds/, the PNGs and sweep.html "
                            "(default build/sweep)")
    store.add_argument("--resume", action="store_true",
                       help="keep the points --out already holds and run only the others "
                            "(failed points run again)")
    store.add_argument("--json", action="store_true",
                       help="print one JSON object: counts, fronts, files and every point")
    store.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)
    return parser


def _points(args):
    """The resolved points of the sweep, the GEMM and the plan's description."""
    from .sweep.space import (AXES, DEFAULT_GEMM, expand, load_plan, parse_gemm, parse_list,
                              point_id, resolve)
    overrides = {axis.name: parse_list(axis.name, getattr(args, f"axis_{axis.name}"))
                 for axis in AXES if getattr(args, f"axis_{axis.name}") is not None}
    groups, plan_gemm = load_plan(args.plan) if args.plan else ([{}], None)
    gemm = parse_gemm(args.gemm) if args.gemm is not None else plan_gemm or DEFAULT_GEMM
    if args.workload is not None:
        gemms, workload = _workload_gemms(args.workload, args.batch or 1)
    else:
        gemms, workload = [list(gemm)], None
    points, seen = [], set()
    for point in expand(groups, overrides):
        point = resolve(point)
        if point_id(point) not in seen:
            seen.add(point_id(point))
            points.append(point)
    command = ["systolic sweep"] + ([args.plan] if args.plan else [])
    command += [f"{axis.flag} {getattr(args, f'axis_{axis.name}')}" for axis in AXES
                if getattr(args, f"axis_{axis.name}") is not None]
    if workload is None:
        command += [f"--gemm {','.join(map(str, gemm))}"]
    else:
        command += [f"--workload {args.workload}"] + ([f"--batch {args.batch}"] if args.batch
                                                      else [])
    command += ["--build"] if args.build else []
    return points, gemms, workload, " ".join(command)


def _workload_gemms(source, batch):
    """``([[M, K, N, count], ...], name)``: the layers of the network ``source`` for ``batch``
    inferences, one entry a GEMM shape (layers of the same shape counted together)."""
    from ..workloads import load_network
    from ..workloads.layers import WorkloadError
    try:
        network = load_network(source)
    except WorkloadError as exc:
        raise UsageError(f"--workload: {exc}") from None
    counts = {}
    for layer in network.layers:
        layer = layer.batched(batch)
        shape = (layer.m, layer.k, layer.n)
        counts[shape] = counts.get(shape, 0) + layer.count
    return [[*shape, count] for shape, count in counts.items()], network.name


def _check(args):
    if args.workload is not None and args.gemm is not None:
        raise UsageError("--gemm and --workload both give what the sustained figure is of; "
                         "give one")
    if args.batch is not None and (not 1 <= args.batch <= BATCH_MAX or args.workload is None):
        raise UsageError(f"--batch {args.batch} is invalid: must be a whole number from 1 to "
                         f"{BATCH_MAX}, with --workload")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs} is invalid: must be a whole number >= 1")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError(f"--timeout {args.timeout:g} is invalid: must be seconds > 0")
    if args.scheduler is None:
        for flag, given in (("--worker-dir", args.worker_dir), ("--bitstreams", args.bitstreams)):
            if given:
                raise UsageError(f"{flag} applies only with --scheduler (local points build "
                                 f"under --out/builds/)")
    elif "://" not in args.scheduler:
        raise UsageError(f"--scheduler {args.scheduler!r} is invalid: expected an address such "
                         f"as tcp://HOST:8786")


def _gops(value):
    return "n/a" if value is None else f"{value:.3g} GOPS"


def _describe(record):
    """One line on a finished point."""
    status = record["status"]
    if status != "ok":
        return f"{record['id']}: {status}: {record['reason']}"
    model, build = record["model"], record.get("build")
    words = [f"peak {model['peak_gops']:.3g} GOPS, sustained {_gops(model['sustained_gops'])}"]
    if build:
        verdict = "met" if build["timing_met"] else "NOT met"
        words = [f"{build['lut']['used']:,} LUT, Fmax {build['fmax_mhz']} MHz ({verdict}), "
                 f"sustained {_gops(build['sustained_gops'])}, built in {build['seconds']:.0f} s"]
    return f"{record['id']}: ok, {words[0]}"


class _Progress:
    """Progress with an ETA on stderr (rich), and a line a finished point."""

    def __init__(self, total, quiet):
        self.quiet = quiet
        self.bar = None
        if quiet:
            return
        try:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
        except ImportError:
            from .sweep.executors import DASK_HINT
            raise UsageError(f"progress needs rich; {DASK_HINT} (or give --quiet)") from None
        self.console = Console(stderr=True, highlight=False)
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                            console=self.console)
        self.task = self.bar.add_task("points", total=total)

    def say(self, message):
        if not self.quiet:
            self.console.print(f"systolic: {message}", markup=False, soft_wrap=True)

    def __enter__(self):
        if self.bar is not None:
            self.bar.start()
        return self

    def advance(self, record):
        if self.bar is not None:
            self.bar.advance(self.task)
        self.say(_describe(record))

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


def _fetch_bitstream(record, store):
    """Move a bitstream sent back by a remote worker into ``--out/builds/<id>/``."""
    build = record.get("build") or {}
    data = build.pop("bitstream_base64", None)
    if data is not None:
        path = store.builds_dir / record["id"] / Path(build["bitstream"]).name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        build["fetched_bitstream"] = str(path)


def _brief(record):
    """A record without the full build report, for --json."""
    build = record.get("build")
    if not build or "report" not in build:
        return record
    return {**record, "build": {k: v for k, v in build.items() if k != "report"}}


def run(args):
    """Run ``systolic sweep`` with parsed ``args``; return the exit status."""
    # SIGTERM (a killed sweep) stops it as Ctrl-C does: the finished points are kept, the
    # workers are stopped, and the report is drawn.
    with terminate_as_interrupt():
        return _run(args)


def _run(args):
    from .sweep.executors import run_dask, run_local
    from .sweep.point import InvalidPoint, invalid_record, settle
    from .sweep.report import write_report
    from .sweep.space import point_id
    from .sweep.store import SweepStore, reusable
    _check(args)
    points, gemms, workload, command = _points(args)
    store = SweepStore(args.out)
    stored = store.records()
    if stored and not args.resume:
        raise UsageError(f"--out {store.root} already holds {len(stored)} point record(s); add "
                         f"--resume to keep them and run only the missing points, or choose "
                         f"another --out")
    settings = {"gemms": gemms, "workload": workload, "build": args.build,
                "timeout": args.timeout,
                "bitstream": args.bitstreams,
                "build_root": args.worker_dir if args.scheduler else
                str(store.builds_dir.resolve())}
    store.write_meta({"command": command, "points": [point_id(p) for p in points],
                      "settings": settings, "scheduler": args.scheduler})
    ids = [point_id(p) for p in points]
    tasks, resumed, invalid = [], 0, []
    for point, pid in zip(points, ids):
        if pid in stored and reusable(stored[pid], settings):
            resumed += 1
            continue
        try:
            settle(point)
        except InvalidPoint as exc:
            invalid.append(invalid_record(point, settings, str(exc)))
            continue
        tasks.append((point, settings))

    interrupted = False
    with _Progress(len(tasks) + len(invalid), args.quiet) as progress:
        if resumed:
            progress.say(f"--resume: {resumed} of {len(points)} points already in {store.root}")
        where = (f"on the Dask cluster at {args.scheduler}" if args.scheduler else
                 f"on {min(args.jobs or os.cpu_count(), max(1, len(tasks)))} local worker(s)")
        progress.say(f"{len(tasks)} point(s) to {'build' if args.build else 'evaluate'} {where}")

        def on_record(record):
            _fetch_bitstream(record, store)
            store.put(record)
            progress.advance(record)

        try:
            for record in invalid:
                on_record(record)
            if tasks and args.scheduler:
                run_dask(tasks, args.scheduler, on_record)
            elif tasks:
                run_local(tasks, args.jobs or os.cpu_count(), on_record)
        except KeyboardInterrupt:
            interrupted = True

    finished = store.records()
    records = [finished[pid] for pid in ids if pid in finished]
    report = write_report(records, store.root, prices=dict(args.device_price or []),
                          meta={"command": command})
    counts = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    if interrupted:
        print(f"systolic sweep: interrupted: {len(records)} of {len(points)} points are stored "
              f"in {store.root}; run the same command with --resume for the rest",
              file=sys.stderr)
        return 130
    if args.json:
        print_json({"out": str(store.root), "html": report["html"],
                    "pictures": report["pictures"], "notes": report["notes"],
                    "fronts": report["fronts"], "points": len(points), "ran": len(tasks),
                    "resumed": resumed, "counts": counts,
                    "records": [_brief(r) for r in records]})
    else:
        print(f"{len(points)} points: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for note in report["notes"]:
            print(f"note: {note}")
        for key, picture in report["pictures"].items():
            if picture is not None:
                print(f"{key} front ({len(report['fronts'][key])} points): {picture}")
        print(f"report: {report['html']}")
    return 1 if counts.get("failed") else 0
