"""Run the generated Verilog on Verilator or Icarus Verilog.

Two drivers share the build cache of this module:

* the cocotb testbench (:mod:`systolic.sim.backends.cocotb_array_bench`), started through
  :mod:`cocotb_tools.runner`, on Verilator or Icarus;
* a compiled Verilator testbench (``harness/array_harness.cpp``) that streams beats from a file,
  for GEMMs where a Python call per cycle would cost more than the simulation itself.

Both drive the array cycle for cycle as the Amaranth harness does, so their cycle counts are
comparable with :func:`~systolic.sim.model.gemm_cycles`.

Builds go through the hash-keyed cache of :mod:`.verilog_build` (shared with the GEMM engine's
drivers in :mod:`.verilog_engine`): a build whose inputs have not changed is reused.
"""

import functools
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from ..model import check_operands, gemm_cycles
from ..packing import operand_bits, result_bits
from ..tiling import GemmRun, array_feed
from .verilator_tools import locate_verilator, missing_build_tools
from .verilog_build import (
    JOB_ENV, SIMULATORS, BackendUnavailable, Build, build_key, cached_build, default_build_root,
    harness_source, icarus_version, make_cocotb, make_verilator_exe, require_verilator,
    run_cocotb_test, run_harness_process, wave_option,
)

__all__ = [
    "BACKENDS", "DRIVERS", "JOB_ENV", "TOPLEVEL", "BENCH_MODULE", "BackendUnavailable", "Build",
    "default_build_root", "verilog_for", "build_simulator", "run_cocotb", "run_harness",
    "beat_words", "ints_to_words", "run_gemm_verilog",
]

#: Simulators of the generated Verilog.
BACKENDS = SIMULATORS
#: How a GEMM is driven: the cocotb bench, or the compiled Verilator harness (``native``).
DRIVERS = ("cocotb", "native")
#: Module name of the top level, as ``systolic generate`` writes it by default.
TOPLEVEL = "systolic_array"
#: The cocotb test module, by its package name (the editable install makes it importable).
BENCH_MODULE = "systolic.sim.backends.cocotb_array_bench"

_HARNESS_SOURCE = harness_source("array_harness.cpp")
# The shared cache's helpers under this module's names: tests replace them here to take a
# tool away from the array's drivers.
_icarus_version = icarus_version


@functools.lru_cache(maxsize=8)
def verilog_for(config):
    """Return the Verilog text of the array of ``config`` (:func:`~systolic.rtl.array.
    make_array`), as ``systolic generate`` writes it."""
    # Imported here: the cocotb bench imports this module inside the simulator, where
    # elaborating gateware is never needed.
    from ...rtl.array import make_array
    from ...rtl.verilog import to_verilog
    return to_verilog(make_array(config), TOPLEVEL)


def _require_verilator():
    return require_verilator(locate_verilator, missing_build_tools)


def _make_harness(directory, tool, trace):
    make_verilator_exe(directory, tool, trace, toplevel=TOPLEVEL, harness=_HARNESS_SOURCE)


def _make_cocotb(directory, simulator, tool, trace):
    make_cocotb(directory, simulator, tool, trace, toplevel=TOPLEVEL)


def build_simulator(config, simulator="verilator", driver="cocotb", *, trace=None, build_root=None):
    """Compile (or find already compiled) a simulator of the array of ``config``.

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
    tool, key = build_key(verilog_for(config), simulator, driver, trace, harness=_HARNESS_SOURCE,
                          require=_require_verilator, icarus=_icarus_version)
    if driver == "native":
        make = functools.partial(_make_harness, tool=tool, trace=trace)
    else:
        make = functools.partial(_make_cocotb, simulator=simulator, tool=tool, trace=key["trace"])
    return cached_build(build_root, key, config, verilog_for(config), TOPLEVEL, make)


# Running ----------------------------------------------------------------------------------

def beat_words(a, b, config):
    """Pack every operand beat of ``A @ B`` into little-endian 32-bit words, with numpy.

    Bit-for-bit the beats of :func:`~systolic.sim.tiling.array_feed`. Output-stationary ones
    (pass by pass, K beats a pass) are packed vectorized: a 256x256x256 GEMM has 65,536
    beats, which Python's per-field packing takes seconds to build. Weight-stationary ones
    come packed from :func:`~systolic.sim.ws_tiling.ws_gemm_beats`.

    Returns
    -------
    numpy.ndarray of uint32, shape (beats, ceil(operand_bits / 32))
    """
    a, b = check_operands(a, b, config)
    if config.weight_stationary:
        return ints_to_words(array_feed(a, b, config).beats, operand_bits(config))
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


def ints_to_words(beats, width):
    """Pack beats given as ints of ``width`` bits into rows of little-endian 32-bit words (the
    layout :func:`beat_words` makes, for beats built one by one)."""
    words = math.ceil(width / 32)
    raw = b"".join(beat.to_bytes(4 * words, "little") for beat in beats)
    return np.frombuffer(raw, dtype="<u4").reshape(-1, words)


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
        summary, wall_s = run_harness_process(command, "harness")
        raw = np.fromfile(rows_file, dtype="<u4").reshape(-1, out_words)
    return _words_to_ints(raw), int(summary["cycles"]), wall_s


def run_cocotb(build, a, b, *, check=False, bubble_rate=0.0, seed=0, budget=None,
               vcd=None, fst=None):
    """Run :mod:`systolic.sim.backends.cocotb_array_bench` on a ``cocotb`` build, through ``cocotb_tools.runner``.

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
    wave_option(build, vcd, fst)     # a bad waveform request fails before anything runs
    a, b = check_operands(a, b, build.config)
    m, k = a.shape
    n = b.shape[1]
    if budget is None:
        stretch = 1.0 / (1.0 - bubble_rate) if bubble_rate < 1 else 1.0
        budget = int(2 * stretch * gemm_cycles(m, k, n, build.config)) + 100
    job = {"config": build.config.to_dict(), "a": a.tolist(), "b": b.tolist(), "budget": budget,
           "check": check, "bubble_rate": bubble_rate, "seed": seed}
    data, wall_s = run_cocotb_test(build, BENCH_MODULE, job, vcd=vcd, fst=fst)
    return {"rows": [int(row, 16) for row in data["rows"]], "cycles": data["cycles"],
            "loop_s": data["loop_s"], "wall_s": wall_s}


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
    feed = array_feed(a, b, config)
    if driver == "native":
        rows, cycles, wall_s = run_harness(build, beat_words(a, b, config), feed.rows, budget,
                                           trace_path=vcd if vcd is not None else fst)
    else:
        ran = run_cocotb(build, a, b, budget=budget, vcd=vcd, fst=fst)
        rows, cycles, wall_s = ran["rows"], ran["cycles"], ran["wall_s"]
    return GemmRun(result=feed.assemble(rows), cycles=cycles, wall_s=wall_s,
                   build_s=build_s, backend=backend)
