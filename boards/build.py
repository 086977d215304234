"""Build a board top through the open toolchain and report on it.

:func:`build` wraps a top in the board's clock generator, has Amaranth write the build plan
(``platform.build(..., do_build=False)``: the same files and commands its own build script
runs), then runs the commands one at a time with the YoWASP tools, so each stage can be shown
and timed, and finally parses the tools' reports (:mod:`systolic.boards.report`).
"""

import json
import os
import re
import subprocess
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.hdl import ClockDomain, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

from ..rtl.lib.buffer_port import YOSYS_SCRIPT_AFTER_READ
from . import gowin, toolchain
from .platforms import board as get_board
from .pll import ClockPlan
from .report import conflicting_drivers, make_report

__all__ = ["build", "build_loopback", "BuildError", "BuildResult", "Harness", "STAGES"]

#: Stages in order; nextpnr covers placement (with its own cell packing) and routing, the
#: last stage packs the routed design into a bitstream.
STAGES = ("synthesis", "placement", "routing", "packing")

#: Yosys command that makes private the name of every wire whose name holds ``[``. Amaranth
#: names each element of an array-shaped signal ``x[6]`` beside ``x`` itself, and Yosys 0.70's
#: ABC step (``abc9`` and ``abc`` alike) can take bit 0 of ``x[6]`` for bit 6 of ``x``: on the
#: ULX3S-85F's 8x16 engine with 32 K steps it joined ten bits of the result buffer's read word
#: to bits of other words, nets then driven twice (BENCHMARKS.md, "Issue 17, thirteenth
#: round"). It changes no logic, but it renames cells, and nextpnr's placement follows the
#: names: a build runs it only on a second synthesis, where the first drove a net twice, so that
#: every other netlist stays the one measured.
HIDE_ELEMENT_NAMES = "rename -hide w:*[[]*"

# nextpnr announces routing with one of these (router1 / router2).
_ROUTING_START = re.compile(r"^Info: (Routing\.\.|Running router2|Router2|Setting up routing)")
# A row of router1's table: iterations | arcs routed with / without rip-up | their deltas |
# arcs remaining | seconds this batch, in all.
_ROUTER1_ROW = re.compile(r"^Info:\s+(\d+) \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|"
                          r"\s+[\d.]+\s+([\d.]+)\|")
#: Seconds between two reports of the router's progress.
ROUTING_REPORT_S = 60
_WASM_NOTICE = re.compile(r"^Preparing to run (yowasp-\S+)")
_TOOL_STAGE = {"yosys": "synthesis", "nextpnr-ice40": "placement", "nextpnr-ecp5": "placement",
               "nextpnr-himbaechel-gowin": "placement",
               "icepack": "packing", "ecppack": "packing", "gowin_pack": "packing"}
_BITSTREAM = {"ice40": "bin", "ecp5": "bit", "gowin": "fs"}


class BuildError(RuntimeError):
    """A build that produced no bitstream: a toolchain stage failed. The message names it and
    quotes the tool's last words; a board build's (:func:`~.top_build.explain_failure`) is one
    line for the user naming what overflowed, when that is why.

    Attributes
    ----------
    stage : str
        Where it failed (``synthesis``, ``placement``, ``routing``, ``packing``, ``setup``).
    log : str or None
        The log to read.
    overflow : Overflow or None
        The resource that did not fit, when that is why (:class:`~.top_build.Overflow`).
    """

    def __init__(self, stage, message, log=None, overflow=None):
        self.stage = stage
        self.log = log
        self.overflow = overflow
        super().__init__(message)

    def to_dict(self):
        return {"error": str(self), "stage": self.stage, "log": self.log,
                "overflow": None if self.overflow is None else self.overflow.to_dict()}


@dataclass
class BuildResult:
    """The outcome of :func:`build`.

    Attributes
    ----------
    board : str
        Board name.
    name : str
        Design name (file stem of every product).
    build_dir : Path
        Where the products are.
    bitstream : Path
        ``<name>.bin`` (iCE40), ``<name>.bit`` (ECP5) or ``<name>.fs`` (Gowin).
    clock : ClockPlan
        How the main clock is made, and its achieved frequency.
    stage_seconds : dict
        Wall time of each of :data:`STAGES`.
    seconds : float
        Wall time of the whole build.
    report : dict
        Utilisation and timing; see :func:`build`.
    """

    board: str
    name: str
    build_dir: Path
    bitstream: Path
    clock: object
    stage_seconds: dict = field(default_factory=dict)
    seconds: float = 0.0
    report: dict = field(default_factory=dict)

    def to_dict(self):
        return {"board": self.board, "name": self.name, "build_dir": str(self.build_dir),
                "bitstream": str(self.bitstream), "clock": self.clock.to_dict(),
                "stage_seconds": self.stage_seconds, "seconds": self.seconds,
                "report": self.report}


class Harness(Elaboratable):
    """A board top with the board's clock generator, which drives its ``sync`` domain.

    Parameters
    ----------
    board : Board
        The board.
    top : Elaboratable
        The design; it runs in ``sync`` and requests its own pins.
    plan : ClockPlan
        The main clock.
    pll_primitive : str or None
        iCE40 PLL primitive (default ``SB_PLL40_PAD``).
    global_reset, link_domain : bool
        See :func:`build`.
    """

    def __init__(self, board, top, plan, *, pll_primitive=None, global_reset=False,
                 link_domain=False):
        self.board = board
        self.top = top
        self.plan = plan
        self.clockgen = board.clock_generator(plan, primitive=pll_primitive)
        self.global_reset = global_reset
        if link_domain and not self.clockgen.has_osc_clock:
            raise BuildError("setup", f"{board.name}: the oscillator feeds the PLL directly, "
                                      f"so it cannot also clock a link domain")
        self.link_domain = link_domain

    def elaborate(self, platform):
        m = Module()
        # The domain is defined here, above every user, and driven by the generator.
        m.domains.sync = cd_sync = ClockDomain()
        m.submodules.clockgen = self.clockgen
        rst = self.clockgen.rst
        if self.global_reset and self.board.family == "ecp5":
            # nextpnr-ecp5 puts only clocks on the global network; a reset that reaches
            # thousands of flip-flops across the die is otherwise a general-routing tree, slow
            # enough to be a big design's critical path. A DCCA makes it a global net.
            # The buffer sits at the die's edge, and the generator's reset register wherever
            # its other users pull it; a register of its own, with the buffer its only load,
            # is placed beside the buffer, so no path runs from that register across the die
            # to the buffer and on through a LUT to the flip-flops. It holds the reset one
            # cycle longer.
            rst_near_buffer = Signal(init=1, reset_less=True)
            m.d.sync += rst_near_buffer.eq(self.clockgen.rst)
            rst = Signal()
            m.submodules.rst_global = Instance("DCCA", i_CLKI=rst_near_buffer, i_CE=1,
                                               o_CLKO=rst)
        m.d.comb += [cd_sync.clk.eq(self.clockgen.clk), cd_sync.rst.eq(rst)]
        if self.link_domain:
            # The oscillator clocks the link; its reset is the main one (held until the PLL
            # has locked), released in step with the oscillator.
            m.domains.link = cd_link = ClockDomain()
            m.d.comb += cd_link.clk.eq(self.clockgen.osc_clk)
            m.submodules.link_reset = ResetSynchronizer(self.clockgen.rst, domain="link")
        m.submodules.top = self.top
        return m


def routing_progress(line):
    """One line of progress from a row of nextpnr router1's table, or ``None`` for other lines.

    The router can spend most of a big ECP5 build on its last congested arcs, the remaining
    count falling slowly; saying so tells a waiting user what the time is going on.
    """
    row = _ROUTER1_ROW.match(line)
    if not row:
        return None
    remaining, seconds = int(row.group(2)), float(row.group(3))
    return (f"routing: {remaining:,} arcs left after {seconds:,.0f} s (the last congested ones "
            f"take longest; --timeout bounds a build, another --seed or --placer may route "
            f"sooner)")


def _run_stage(argv, cwd, env, stage, *, tool, log_file, progress, on_line=None, timeout=None):
    """Run one tool, streaming its output into ``log_file``; return the stage it ended in."""
    tail = deque(maxlen=30)
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    # A watchdog rather than a check per output line: a tool may go quiet for minutes.
    timed_out = threading.Event()

    def expire():
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(timeout, expire) if timeout is not None else None
    if watchdog:
        watchdog.start()
    try:
        for line in proc.stdout:
            log_file.write(line)
            tail.append(line.rstrip())
            notice = _WASM_NOTICE.match(line)
            if notice:
                progress(f"{stage}: {notice.group(1)} is compiling its WebAssembly "
                         f"(first run only, ~30 s)")
            if on_line:
                stage = on_line(line.rstrip(), stage)
        status = proc.wait()
    finally:
        if watchdog:
            watchdog.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    if timed_out.is_set():
        # A router stalled on congestion is what a placement that spreads the cells can cure.
        hint = "; another --seed or --placer static may route" if stage == "routing" else ""
        raise BuildError(stage, f"{stage} ({tool}) took over {timeout:g} s and was stopped{hint}",
                         log=log_file.name)
    if status != 0:
        errors = [line for line in tail if "ERROR" in line or "Error" in line] or list(tail)[-8:]
        raise BuildError(stage, f"{stage} failed ({tool} exited with status {status}): "
                         + " | ".join(errors[-8:]), log=log_file.name)
    return stage


def build(top, board, build_dir, *, name="top", clk_hz=None, pll_primitive=None, seed=None,
          placer=None, timing_allow_fail=True, nextpnr_opts=(), progress=None, timeout=None,
          synth_opts=(), global_reset=False, link_domain=False):
    """Synthesize, place, route and pack ``top`` for ``board``; return a :class:`BuildResult`.

    Parameters
    ----------
    top : Elaboratable or callable
        The design, running in the ``sync`` domain, which the build creates with the board's
        clock generator (so the top must not define ``sync`` itself). A callable is called
        with the achieved clock frequency in Hz and must return the design; use it when the
        design needs the frequency (a UART divisor, a timer).
    board : Board or str
        Target board.
    build_dir : path
        Directory for the build products; created if needed, reused files are overwritten.
    name : str
        Design name: the stem of every product (``top.bin``, ``top.tim``, ...).
    clk_hz : float, ClockPlan or None
        Main clock target, or its plan (:meth:`~.platforms.Board.clock_plan`) when the caller
        has planned it already; default the board's :attr:`~Board.default_clk_hz`.
    pll_primitive : str or None
        iCE40 only: ``"SB_PLL40_PAD"`` (default) or ``"SB_PLL40_2F_PAD"``.
    seed : int or None
        nextpnr placer seed.
    placer : str or None
        nextpnr's placer, one of :data:`~.toolchain.PLACERS`; ``None`` leaves nextpnr's own
        (``heap``).
    timing_allow_fail : bool
        Produce a bitstream even when timing fails (the report says so). With ``False``
        nextpnr stops with an error instead.
    nextpnr_opts : sequence of str
        More nextpnr options.
    progress : callable or None
        Called with a one-line message as each stage starts and ends.
    timeout : float or None
        Seconds any one stage may take.
    synth_opts : sequence of str
        More options for Yosys' ``synth_<family>`` (e.g. ``-dsp`` on iCE40).
    global_reset : bool
        ECP5: put the ``sync`` reset on a global net (through a DCCA), as nextpnr does for
        clocks only. (nextpnr-ice40 promotes high-fanout resets by itself.)
    link_domain : bool
        Also define a ``link`` domain clocked by the board's oscillator (for a top whose host
        link runs apart from the main clock); boards whose PLL takes the oscillator pad
        (iCE40) cannot.

    Returns
    -------
    BuildResult
        Its ``report`` dict (also written to ``<name>.summary.json``) holds:

        - ``board``, ``device`` (the devices.json key), ``family``;
        - ``lut``, ``ff``, ``dsp``, ``bram``: ``{"used", "available"}`` as nextpnr counts them
          (``lut`` is logic cells: ICESTORM_LC / TRELLIS_COMB), and ``fits``;
        - ``resources``: the same four plus ``spram`` (iCE40), ``io``, ``pll``, ``global``,
          each ``{"cell", "used", "available", "percent", "catalog"}`` (``catalog``: the
          devices.json figure, where it has one);
        - ``cells``: nextpnr's whole utilisation table; ``netlist``: Yosys' cell counts;
        - ``clock``: the main clock's ``net``, ``fmax_mhz``, ``constraint_mhz``, ``target_mhz``,
          ``met``, ``critical_path`` (``from``, ``to``, ``delay_ns``, ``logic_ns``,
          ``routing_ns``) and ``pll`` (the dividers); ``clocks``: every clock nextpnr timed;
        - ``fmax_mhz``, ``target_mhz``, ``timing_met`` (every clock met, the main one at
          least its target);
        - ``stage_seconds``, ``seconds``, ``toolchain`` (YoWASP package versions),
          ``bitstream``, ``files`` (logs and reports), ``warnings`` (e.g. a disagreement
          between nextpnr's available count and devices.json).

    Raises
    ------
    ToolchainError
        If a tool is missing.
    BuildError
        If a stage fails.
    PLLError
        If the board cannot make ``clk_hz``.
    """
    board = get_board(board)
    if placer is not None and placer not in toolchain.PLACERS:
        raise ValueError(f"placer={placer!r} is invalid: must be one of "
                         f"{', '.join(toolchain.PLACERS)}")
    say = progress or (lambda message: None)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    env_tools = toolchain.tool_env(board.family)
    plan = clk_hz if isinstance(clk_hz, ClockPlan) else board.clock_plan(clk_hz)
    design = top if isinstance(top, Elaboratable) else top(plan.f_out)
    if not isinstance(design, Elaboratable):
        raise TypeError(f"top must be an Elaboratable or return one, not {design!r}")
    # No explicit constraint on the main clock: nextpnr derives it from the oscillator pin's
    # (which the board resource carries) through the PLL's dividers, and so times against the
    # achieved frequency. An Amaranth add_clock_constraint() would name the net after one of
    # the modules using it, a name flattening may not keep, and nextpnr would ignore it.
    clock_net = "clk"
    pll = "no PLL" if plan.pll is None else board.pll_primitive
    say(f"building {name} for {board.name} ({board.device}) at {plan.f_out / 1e6:g} MHz "
        f"({pll}) in {build_dir}")

    opts = ["--report", f"{name}.report.json"]
    if timing_allow_fail:
        opts.append("--timing-allow-fail")
    if seed is not None:
        opts += ["--seed", str(int(seed))]
    if placer is not None:
        opts += ["--placer", placer]
    opts += list(nextpnr_opts)

    started = time.monotonic()
    platform = board.platform()
    harness = Harness(board, design, plan, pll_primitive=pll_primitive,
                      global_reset=global_reset, link_domain=link_domain)
    build_plan = platform.build(
        harness, name=name, build_dir=str(build_dir), do_build=False, do_program=False,
        # Verbose: nextpnr prints its progress (which tells placement from routing) instead
        # of only writing it to its log file.
        verbose=True, nextpnr_opts=" ".join(opts), script_after_read=YOSYS_SCRIPT_AFTER_READ,
        **({"synth_opts": " ".join(synth_opts)} if synth_opts else {}))
    # Products of an earlier build in the same directory must not pass for this one's.
    for suffix in (".report.json", ".tim", ".rpt", ".json", ".asc", ".config", ".bin", ".bit",
                   ".svf", ".syn.json", ".pnr.json", ".sdc", ".fs", ".summary.json", ".build.log"):
        (build_dir / f"{name}{suffix}").unlink(missing_ok=True)
    build_plan.extract(str(build_dir))
    commands = json.loads(build_plan.files[f"build_{name}.json"])["commands"]

    env = dict(os.environ)
    env.update(env_tools)
    stage_seconds = {}
    log_path = build_dir / f"{name}.build.log"

    def nextpnr_line(line, stage):
        if stage == "placement" and _ROUTING_START.match(line):
            stage_seconds["placement"] = round(time.monotonic() - stage_started[0], 2)
            say(f"placement done in {stage_seconds['placement']:.1f} s; routing")
            stage_started[0] = last_report[0] = time.monotonic()
            return "routing"
        if stage == "routing" and time.monotonic() - last_report[0] >= ROUTING_REPORT_S:
            message = routing_progress(line)
            if message:
                say(message)
                last_report[0] = time.monotonic()
        return stage

    stage_started = [0.0]
    last_report = [0.0]
    with open(log_path, "w") as log_file:
        for argv in commands:
            if argv[0] == "nextpnr-gowin":
                # Timing constraints from the synthesized netlist, which names the clock nets.
                sdc = gowin.write_clock_constraints(
                    build_dir / f"{name}.syn.json", build_dir / f"{name}.sdc",
                    osc_port=f"{board.oscillator}_0__io", osc_hz=board.osc_hz, clk_hz=plan.f_out)
                argv = gowin.himbaechel_command(argv, sdc=sdc.name)
            tool = argv[0]
            stage = _TOOL_STAGE.get(tool)
            if stage is None:
                raise BuildError("setup", f"unexpected command in the build plan: {tool}")
            argv = [env_tools[toolchain.tool_env_var(tool)], *argv[1:]]
            log_file.write(f"$ {' '.join(argv)}\n")
            log_file.flush()
            say(f"{stage} ({tool})")
            stage_started[0] = time.monotonic()
            stage = _run_stage(argv, build_dir, env, stage, tool=tool, log_file=log_file,
                               progress=say, timeout=timeout,
                               on_line=nextpnr_line if tool.startswith("nextpnr") else None)
            if tool == "yosys":
                yosys_log = build_dir / f"{name}.rpt"
                conflicts = _conflicts(yosys_log)
                if conflicts:
                    _hide_element_names(build_dir / f"{name}.ys")
                    say("synthesis: Yosys's netlist drives nets twice; again, with the names of "
                        "array elements made private")
                    _run_stage(argv, build_dir, env, stage, tool=tool, log_file=log_file,
                               progress=say, timeout=timeout)
                    conflicts = _conflicts(yosys_log)
                _check_netlist(conflicts, yosys_log)
            stage_seconds[stage] = round(time.monotonic() - stage_started[0], 2)
            say(f"{stage} done in {stage_seconds[stage]:.1f} s")
    seconds = round(time.monotonic() - started, 2)

    bitstream = build_dir / f"{name}.{_BITSTREAM[board.family]}"
    if not bitstream.is_file() or bitstream.stat().st_size == 0:
        raise BuildError("packing", f"no bitstream at {bitstream}", log=str(log_path))
    report = {"board": board.name,
              **make_report(build_dir, name, board.device, clock_net=clock_net,
                            target_hz=plan.f_out)}
    report["clock"]["pll"] = None if plan.pll is None else plan.pll.to_dict()
    report["stage_seconds"] = stage_seconds
    report["seconds"] = seconds
    report["toolchain"] = toolchain.tool_versions(board.family)
    report["files"]["bitstream"] = report["bitstream"] = str(bitstream)
    report["files"]["build_log"] = str(log_path)
    summary = build_dir / f"{name}.summary.json"
    partial = summary.with_name(summary.name + ".tmp")
    partial.write_text(json.dumps(report, indent=2, sort_keys=True))
    os.replace(partial, summary)    # readers never see half a file
    say(f"done in {seconds:.1f} s: {report['resources']['lut']['used']} "
        f"{report['resources']['lut']['cell']}, Fmax {report['fmax_mhz']} MHz "
        f"(target {report['target_mhz']:g}, timing {'met' if report['timing_met'] else 'NOT met'})")
    return BuildResult(board=board.name, name=name, build_dir=build_dir, bitstream=bitstream,
                       clock=plan, stage_seconds=stage_seconds, seconds=seconds, report=report)


def _conflicts(log):
    """The nets driven twice that Yosys's last ``check`` in its log (``log``) found
    (:func:`~.report.conflicting_drivers`); none if there is no log."""
    return conflicting_drivers(log.read_text(errors="replace")) if log.is_file() else []


def _hide_element_names(script):
    """Add :data:`HIDE_ELEMENT_NAMES` to the Yosys ``script`` Amaranth wrote, after the
    commands run on reading the design (``script_after_read``)."""
    text = script.read_text()
    if YOSYS_SCRIPT_AFTER_READ not in text:
        raise BuildError("synthesis", f"{script} does not hold the build's commands after "
                         f"reading the design", log=str(script))
    script.write_text(text.replace(YOSYS_SCRIPT_AFTER_READ,
                                   f"{YOSYS_SCRIPT_AFTER_READ}\n{HIDE_ELEMENT_NAMES}", 1))


def _check_netlist(conflicts, log):
    """Raise :class:`BuildError` if Yosys's last ``check`` found nets driven twice
    (``conflicts``, from :func:`_conflicts` on its log ``log``, the ``<name>.rpt`` that
    :func:`~.report.make_report` reads too): nextpnr would refuse the netlist, and the fault is
    the mapping's, not the design's (Amaranth gives every signal one driver)."""
    if conflicts:
        first = conflicts[0]
        raise BuildError(
            "synthesis",
            f"synthesis failed: Yosys's netlist drives {len(conflicts)} net(s) from two cell "
            f"ports (first {first['net']}: {' and '.join(first['drivers'][:2])}), which the "
            f"design does not: a fault of the mapping, which other buffer sizes or another "
            f"array shape may avoid", log=str(log))


def build_loopback(board, build_dir, *, clk_hz=None, baud=None, **kwargs):
    """Build the UART echo top (:class:`~systolic.boards.loopback.UARTLoopback`) for ``board``."""
    from .loopback import UARTLoopback
    from ..rtl.protocol import DEFAULT_BAUD
    board = get_board(board)
    return build(lambda f: UARTLoopback(board, f, baud=baud or DEFAULT_BAUD), board, build_dir,
                 clk_hz=clk_hz, **kwargs)
