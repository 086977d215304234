"""One point of a sweep, evaluated: the model's figures and, if asked, a real build.

:func:`evaluate` runs wherever the executor puts it (a local worker process, a Dask worker on
another machine) and returns the point's record, a JSON-serializable dict; it never raises for
anything the point itself causes. A record's ``status`` is one of :data:`STATUSES`:

- ``ok``: the model's figures, and the build's when one was asked for and produced a bitstream;
- ``invalid``: the configuration is refused (``reason`` says why; e.g. a dataflow the gateware
  does not have yet, or a clock the board's PLL cannot make); nothing was run;
- ``no-fit``: the build stopped because the design does not fit the device; ``build.overflow``
  names the resource, its use and what the device has;
- ``failed``: a tool (or the evaluation) failed; ``reason`` and ``log`` say where to look.

The throughput question is put as a list of GEMMs (``settings["gemms"]``): one ``[M, K, N]``
for ``--gemm``, or a workload's layers as ``[M, K, N, count]`` for ``--workload``; the
sustained figure is the whole list's operations over its cycles.
"""

import base64
import datetime
import json
import socket
import tempfile
import time
import traceback
from pathlib import Path

from ...boards.block_ram_estimate import block_rams
from ..output import write_atomic

__all__ = ["evaluate", "settle", "model_figures", "failed_record", "invalid_record", "STATUSES",
           "InvalidPoint", "BUILD_REPORT", "DEFAULT_BUILD_ROOT", "build_dir_of"]

#: Outcomes of a point.
STATUSES = ("ok", "invalid", "no-fit", "failed")
#: The build report in a point's build directory (what ``systolic build`` writes too).
BUILD_REPORT = "build.json"
_ERROR_LOG = "sweep-error.log"


class InvalidPoint(ValueError):
    """The point's configuration is refused; the message says which parameter and why."""


def settle(point):
    """Return ``(board, engine config, clock plan)`` of a resolved point.

    Raises :class:`InvalidPoint` when the array, the engine, the clock or the UART divisor at
    that clock is refused.
    """
    from ...boards.design import DesignError, resolve_build
    from ...rtl.config import ArrayConfig, ConfigError
    try:
        array = ArrayConfig(rows=point["rows"], cols=point["cols"], a_width=point["width"],
                            b_width=point["width"], dataflow=point["dataflow"],
                            pipeline=point["pipeline"])
        # The board's own design around the array, as ``systolic build`` resolves it.
        design = resolve_build(point["board"], array=array, clock_hz=point["clock_mhz"] * 1e6)
    except ConfigError as exc:
        raise InvalidPoint(str(exc)) from None
    except DesignError as exc:
        raise InvalidPoint(f"clock_mhz={point['clock_mhz']:g}: {exc}") from None
    return design.board, design.engine, design.plan


def model_figures(engine, gemms, clock_hz, family="ice40"):
    """The model's figures of ``engine`` at ``clock_hz`` over ``gemms`` (``[(m, k, n), ...]``;
    a fourth item, where given, is how many times that GEMM runs).

    ``family`` (``"ice40"`` or ``"ecp5"``) is the device's, for the block-RAM estimate.

    Returns a dict: ``clock_mhz``, ``macs``, ``peak_gops`` (``2 * MACs * clock``),
    ``sustained_gops`` (the GEMMs' operations over their cycles, operand loads included,
    from :func:`~systolic.sim.engine_perf.gemm_perf`), ``sustained_efficiency`` (both ``None``
    when the GEMMs are more jobs than the model times, ``sustained_note`` saying so), ``gemms``
    (each GEMM's ``GemmPerf.to_dict()``) and ``buffers`` (the engine's buffer sizes: the
    configuration, the largest job, bits and estimated block RAMs).
    """
    from ...sim.engine_perf import TooManyJobs, gemm_perf
    macs = engine.array.macs
    sustained = {"sustained_gops": None, "sustained_efficiency": None, "sustained_note": None,
                 "gemms": []}
    try:
        # (figures, how many times the GEMM runs)
        runs = [(gemm_perf(engine, *g[:3]), g[3] if len(g) > 3 else 1) for g in gemms]
    except TooManyJobs as exc:
        # Buffers cut to almost nothing (a design too big for the device's block RAM): the
        # point is still built, and its figures say why there is no sustained one.
        sustained["sustained_note"] = str(exc)
    else:
        cycles = sum(p.total_cycles * c for p, c in runs)
        ops = sum(2 * p.m * p.k * p.n * c for p, c in runs)
        sustained.update(sustained_gops=ops * clock_hz / cycles / 1e9,
                         sustained_efficiency=sum(p.ideal_cycles * c for p, c in runs) / cycles,
                         gemms=[{**p.to_dict(), "count": c} for p, c in runs])
    return {
        "clock_mhz": clock_hz / 1e6,
        "macs": macs,
        "peak_gops": 2 * macs * clock_hz / 1e9,
        **sustained,
        "buffers": {
            "k_depth": engine.k_depth, "m_blocks": engine.m_blocks, "n_blocks": engine.n_blocks,
            "buffer_ram": engine.buffer_ram, "word_width": engine.word_width,
            "max_job": [engine.max_m, engine.max_k, engine.max_n],
            "bits": engine.buffer_bits,
            "block_rams": block_rams(engine, family)["total"],
        },
    }


def _base(point, settings):
    from .space import point_id
    return {"id": point_id(point), "point": dict(point), "status": None, "reason": None,
            "settings": {"gemms": [list(g) for g in settings["gemms"]],
                         "workload": settings.get("workload"),
                         "build": bool(settings["build"])},
            "device": None, "model": None, "build": None, "log": None,
            "host": socket.gethostname(), "seconds": None, "finished": None}


def _finish(record, started):
    record["seconds"] = round(time.monotonic() - started, 2)
    record["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return record


def invalid_record(point, settings, reason):
    """The record of a point whose configuration is refused."""
    record = _base(point, settings)
    record.update(status="invalid", reason=reason)
    return _finish(record, time.monotonic())


def failed_record(point, settings, reason, log=None):
    """The record of a point whose evaluation failed outside :func:`evaluate` (its worker
    died, say)."""
    record = _base(point, settings)
    record.update(status="failed", reason=reason, log=None if log is None else str(log))
    return _finish(record, time.monotonic())


#: Under this (in the system's temporary directory) a worker builds when not told where.
DEFAULT_BUILD_ROOT = "systolic-sweep"


def build_dir_of(point, settings):
    """Where a point is built: ``settings["build_root"] / point id``, the root defaulting to
    :data:`DEFAULT_BUILD_ROOT` in the temporary directory of the machine that builds it."""
    from .space import point_id
    root = settings.get("build_root") or Path(tempfile.gettempdir()) / DEFAULT_BUILD_ROOT
    return Path(root) / point_id(point)


def evaluate(point, settings):
    """Evaluate one resolved point; return its record (see the module's docstring).

    Parameters
    ----------
    point : dict
        A resolved point (:func:`~.sweep_space.resolve`).
    settings : dict
        ``gemms`` (list of ``[m, k, n]``), ``build`` (bool), ``build_root`` (directory on this
        machine under which the point's build directory is made; see :func:`build_dir_of`),
        ``timeout`` (seconds a tool
        may run, or ``None``) and ``bitstream`` (bool: put the bitstream's bytes, base64, in
        the record as ``build.bitstream_base64``, for a sweep whose builds run elsewhere).
    """
    started = time.monotonic()
    record = _base(point, settings)
    try:
        board, engine, plan = settle(point)
    except InvalidPoint as exc:
        record.update(status="invalid", reason=str(exc))
        return _finish(record, started)
    record["device"] = board.device
    build_dir = build_dir_of(point, settings)
    try:
        record["model"] = model_figures(engine, settings["gemms"], plan.f_out, board.family)
        record["status"] = "ok"
        if settings["build"]:
            _build(record, point, settings, board, engine, plan, build_dir)
    except Exception:   # noqa: BLE001 - whatever went wrong is this point's result
        build_dir.mkdir(parents=True, exist_ok=True)
        log = build_dir / _ERROR_LOG
        log.write_text(traceback.format_exc())
        last = traceback.format_exc().strip().splitlines()[-1]
        record.update(status="failed", reason=f"evaluation failed: {last}", log=str(log))
    return _finish(record, started)


def _build(record, point, settings, board, engine, plan, build_dir):
    from ...boards.toolchain import ToolchainError
    from ...boards.build import BuildError
    from ...boards.top_build import build_board
    try:
        report = build_board(board, engine, build_dir, clk_hz=plan.f_out, seed=point["seed"],
                             placer=point.get("placer"), design=point["design"],
                             timeout=settings.get("timeout"))
    except ToolchainError as exc:
        record.update(status="failed", reason=str(exc))
        return
    except BuildError as exc:
        failure = exc.to_dict()
        record["build"] = {"fits": False if exc.overflow is not None else None,
                           "build_dir": str(build_dir), **failure}
        record.update(status="no-fit" if exc.overflow is not None else "failed",
                      reason=str(exc), log=exc.log)
        return
    write_atomic(build_dir / BUILD_REPORT, json.dumps(report, indent=2, sort_keys=True) + "\n")
    clock_mhz = min(report["fmax_mhz"], report["target_mhz"]) if report["fmax_mhz"] else None
    model = record["model"]
    summary = {
        "fits": report["fits"],
        **{key: report[key] for key in ("lut", "ff", "dsp", "bram", "fmax_mhz", "target_mhz",
                                        "timing_met", "peak_gops", "seconds", "bitstream",
                                        "multipliers", "build_dir", "seed", "placer")},
        "clock_mhz": clock_mhz,
        # The model's cycles at the clock the build reaches (its Fmax when it misses the target).
        "sustained_gops": None if clock_mhz is None or model["sustained_gops"] is None
        else model["sustained_gops"] * clock_mhz / model["clock_mhz"],
        "critical_path": report["clock"].get("critical_path"),
        "report": report,
    }
    if settings.get("bitstream"):
        summary["bitstream_base64"] = base64.b64encode(Path(report["bitstream"]).read_bytes()
                                                       ).decode("ascii")
    record["build"] = summary
    record["log"] = report["files"].get("nextpnr_log")
