"""Build a board top and describe the result: the report ``systolic build`` prints and saves.

:func:`build_board` runs :func:`~systolic.boards.build.build` on a :class:`~.top.BoardTop` and
returns the build report (see :func:`build_report`); :func:`explain_failure` turns a failed
build into one line naming what overflowed, read from the tools' own logs.
"""

import re
from pathlib import Path

from .build import BuildError, build
from .platforms import board as get_board
from .report import FAMILY_CELLS, parse_nextpnr_log
from .design import default_baud, link_clock_hz, synth_options
from .pll import ClockPlan
from .top import BoardTop

__all__ = ["build_board", "build_report", "peak_gops", "explain_failure", "Overflow",
           "DESIGNS"]

#: What a board build can hold: the engine behind its UART bridge (the board top), or the
#: array alone (:class:`~.top_arraybench.ArrayBench`, to measure the array by itself).
DESIGNS = ("engine", "array")


def peak_gops(macs, fmax_mhz, target_mhz):
    """Peak throughput in GOPS: ``2 * macs * min(fmax, target) / 1e3`` (a MAC is two operations).

    The design runs at the target clock when it meets it, and would have to be clocked down
    to its Fmax otherwise. ``None`` if there is no Fmax.
    """
    if fmax_mhz is None:
        return None
    return round(2 * macs * min(fmax_mhz, target_mhz) / 1e3, 3)


class Overflow:
    """A resource a design needs more of than the device has, as nextpnr counted it."""

    def __init__(self, resource, cell, used, available):
        self.resource = resource
        self.cell = cell
        self.used = used
        self.available = available

    def to_dict(self):
        return {"resource": self.resource, "cell": self.cell, "used": self.used,
                "available": self.available}


_RESOURCE_OF_CELL = {cell: key for family in FAMILY_CELLS.values()
                     for key, cell in family.items() if cell}
# nextpnr's words when a cell type has no bel left (placer) or the packer finds too many.
_NO_BELS = re.compile(r"no (?:BELs|Bels) remaining to (?:implement|place) cell type '([^']+)'",
                      re.I)


def _overflow(tim_text):
    """The first over-subscribed resource in a nextpnr log, or ``None``."""
    log = parse_nextpnr_log(tim_text)
    over = [(cell, n) for cell, n in log["utilisation"].items() if n["used"] > n["available"]]
    if not over:
        match = _NO_BELS.search(tim_text)
        if match and match.group(1) in log["utilisation"]:
            over = [(match.group(1), log["utilisation"][match.group(1)])]
    if not over:
        return None
    # The largest relative excess is the one to fix first.
    cell, n = max(over, key=lambda item: item[1]["used"] / max(1, item[1]["available"]))
    return Overflow(_RESOURCE_OF_CELL.get(cell, cell.lower()), cell, n["used"], n["available"])


def explain_failure(error, board, build_dir, name="top"):
    """Return the :class:`~.build.BuildError` to report for ``error``, one of a board build.

    When nextpnr's log shows a resource used beyond what the device has, the message names it
    with both counts; otherwise it is the stage and the tool's last words. The message is one
    line and ends with the log to read.
    """
    board = get_board(board)
    tim = Path(build_dir) / f"{name}.tim"
    overflow = _overflow(tim.read_text(errors="replace")) if tim.is_file() else None
    if overflow is not None:
        message = (f"the design does not fit {board.device} ({board.name}): "
                   f"{overflow.resource} ({overflow.cell}) {overflow.used} used, "
                   f"{overflow.available} available; log: {tim}")
        return BuildError(error.stage, message, log=str(tim), overflow=overflow)
    log = error.log or (str(tim) if tim.is_file() else None)
    words = " ".join(str(error).split())
    message = f"{words}; log: {log}" if log else words
    return BuildError(error.stage, message, log=log)


def build_report(result, board, engine_config, *, multipliers, baud, seed, placer,
                 design="engine", link_hz=None):
    """Return the build report of ``result`` (a :class:`~.build.BuildResult`).

    It is :func:`~systolic.boards.build.build`'s report (resources, clocks, critical path,
    files, tool versions) plus what the command line promises: ``macs``, ``peak_gops``,
    ``config`` (the array, ``ArrayConfig.to_dict()``), ``engine``
    (``EngineConfig.to_dict()``), ``multipliers`` (PEs on hard multipliers and in logic
    cells), ``baud``, ``seed``, ``placer`` (nextpnr's) and ``design`` (one of :data:`DESIGNS`;
    ``"array"`` has no engine: its ``engine`` and ``baud`` are ``None``), and ``link_mhz``: the
    clock of the UART and the bridge when they run apart from the engine (``None`` when they
    share its clock).
    """
    board = get_board(board)
    report = dict(result.report)
    array = engine_config.array
    report.update({
        "board": board.name,
        "macs": array.macs,
        "peak_gops": peak_gops(array.macs, report["fmax_mhz"], report["target_mhz"]),
        "config": array.to_dict(),
        "engine": engine_config.to_dict() if design == "engine" else None,
        "multipliers": {
            "primitive": board.facts()["dsp_kind"],
            "hard_pes": multipliers.hard, "lut_pes": multipliers.soft,
            "blocks_budget": multipliers.available, "blocks_taken": multipliers.blocks,
        },
        "baud": baud if design == "engine" else None,
        "link_mhz": None if link_hz is None else link_hz / 1e6,
        "seed": seed,
        "placer": placer,
        "design": design,
        "build_dir": str(result.build_dir),
    })
    return report


def build_board(board, engine_config, build_dir, *, clk_hz=None, seed=None, placer=None,
                baud=None, dsp_budget=None, progress=None, timeout=None, nextpnr_opts=(),
                synth_opts=None, design="engine"):
    """Build the engine top for ``board`` in ``build_dir``; return its report.

    Parameters
    ----------
    board : Board or str
    engine_config : EngineConfig
    build_dir : path
    clk_hz : float, ClockPlan or None
        Main clock target, or its plan when the caller has planned it (as ``systolic build``
        does, once); default :func:`~.design.default_clock_hz`.
    seed : int or None
        nextpnr placer seed.
    placer : str or None
        nextpnr's placer (:data:`~.toolchain.PLACERS`); default the board's.
    baud : int or None
        UART rate; default :func:`~.design.default_baud` at ``clk_hz``.
    dsp_budget : int or None
        Hard multiplier blocks the PEs may take; default the device's count.
    progress : callable or None
        Called with one-line messages as the stages go.
    timeout : float or None
        Seconds any one stage may take.
    nextpnr_opts : sequence of str
        More nextpnr options.
    synth_opts : sequence of str or None
        Yosys ``synth_*`` options; default :func:`~.design.synth_options`.
    design : str
        ``"engine"`` (the board top) or ``"array"`` (the array alone, fed by a pseudo-random
        source; ``engine_config.array`` is built, the buffers are not).

    Returns
    -------
    dict
        See :func:`build_report`.

    Raises
    ------
    BuildError
        If a stage fails; the message is one line naming an overflowing resource when that is
        the cause.
    """
    board = get_board(board)
    plan = clk_hz if isinstance(clk_hz, ClockPlan) else board.clock_plan(clk_hz)
    baud = default_baud(board, plan) if baud is None else baud
    placer = board.placer if placer is None else placer
    tops = []

    if design not in DESIGNS:
        raise ValueError(f"design={design!r} is invalid: must be one of {', '.join(DESIGNS)}")

    link_hz = link_clock_hz(board) if design == "engine" else None

    def make_top(f_hz):
        if design == "array":
            from .top_arraybench import ArrayBench
            top = ArrayBench(board, engine_config.array, clock_hz=f_hz, dsp_budget=dsp_budget)
        else:
            top = BoardTop(board, engine_config, clock_hz=f_hz, baud=baud, dsp_budget=dsp_budget,
                           link_clock_hz=link_hz)
        tops.append(top)
        return top

    try:
        result = build(make_top, board, build_dir, clk_hz=plan, seed=seed, placer=placer,
                       progress=progress, timeout=timeout, global_reset=True,
                       link_domain=link_hz is not None,
                       synth_opts=synth_options(board) if synth_opts is None else synth_opts,
                       nextpnr_opts=nextpnr_opts)
    except BuildError as exc:
        raise explain_failure(exc, board, build_dir) from exc
    return build_report(result, board, engine_config, multipliers=tops[-1].multipliers,
                        baud=baud, seed=seed, placer=placer, design=design, link_hz=link_hz)
