"""Run the GEMM engine's generated Verilog on Verilator or Icarus Verilog.

The design is ``to_verilog(GemmEngine(config), "gemm_engine")``. Two drivers, both built through
the cache of :mod:`.verilog_build`:

* ``native``: a compiled Verilator testbench (``harness/engine_harness.cpp``) that reads the
  input words from a file and writes back the cycle each was taken and every output word with
  its cycle; no Python runs per cycle;
* ``cocotb``: the bench :mod:`systolic.sim.backends.cocotb_engine_bench`, on Icarus (or on Verilator).

Both drive the engine's streams exactly as :func:`~.amaranth_engine.run_engine_words` does in
Amaranth's simulator, so the cycles they report are :class:`~..engine_model.EngineModel`'s
figures, word for word.

Stream words may be up to 256 bits wide (``EngineConfig.word_width``), output beats a row of
them: the host packs each word into ``ceil(word_width / 32)`` little-endian 32-bit words, which
the harness copies into Verilator's ``VlWide`` ports, and reads each beat back the same way
(:func:`~..packing.unpack_beat` splits it into words).
"""

import functools
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from ...rtl.engine.config import EngineConfig
from .amaranth_engine import EngineRun
from ..engine_tiling import assemble_results, cycle_budget, gemm_program
from ..packing import beat_bits, unpack_beat
from ..tiling import GemmRun
from .verilog_build import (
    SIMULATORS, build_key, cached_build, harness_source, make_cocotb,
    make_verilator_exe, run_cocotb_test, run_harness_process, wave_option,
)

__all__ = [
    "BACKENDS", "DRIVERS", "TOPLEVEL", "BENCH_MODULE", "engine_verilog", "build_engine_simulator",
    "pack_words", "run_engine_harness", "run_engine_cocotb", "run_engine_words_verilog",
    "run_engine_gemm_verilog",
]

#: Simulators of the engine's Verilog.
BACKENDS = SIMULATORS
#: ``native`` (the compiled Verilator harness) or ``cocotb``.
DRIVERS = ("native", "cocotb")
#: Module name of the engine's top level.
TOPLEVEL = "gemm_engine"
#: The cocotb test module, by its package name.
BENCH_MODULE = "systolic.sim.backends.cocotb_engine_bench"

_HARNESS_SOURCE = harness_source("engine_harness.cpp")
#: Prefix of the engine's build directories (the array's have none).
_PREFIX = "engine-"


@functools.lru_cache(maxsize=8)
def engine_verilog(config):
    """Return the Verilog text of ``GemmEngine(config)`` with top module ``gemm_engine``."""
    from ...rtl.engine.engine import GemmEngine
    from ...rtl.verilog import to_verilog
    return to_verilog(GemmEngine(config), TOPLEVEL)


def _check_config(config):
    if not isinstance(config, EngineConfig):
        raise TypeError(f"the engine's simulators need an EngineConfig, got {type(config).__name__}")


def build_engine_simulator(config, simulator="verilator", driver="native", *, trace=None,
                           build_root=None):
    """Compile (or find already compiled) a simulator of ``GemmEngine(config)``.

    The engine's counterpart of :func:`~.cocotb_array.build_simulator` (the same parameters,
    result and errors), for an :class:`~systolic.rtl.engine.config.EngineConfig`, whose default
    driver is the compiled harness (``native``); its builds share the cache under their own
    prefix.
    """
    _check_config(config)
    verilog = engine_verilog(config)
    tool, key = build_key(verilog, simulator, driver, trace, harness=_HARNESS_SOURCE,
                          design=TOPLEVEL)
    if driver == "native":
        make = functools.partial(make_verilator_exe, tool=tool, trace=trace, toplevel=TOPLEVEL,
                                 harness=_HARNESS_SOURCE, output="engine_harness")
    else:
        make = functools.partial(make_cocotb, simulator=simulator, tool=tool, trace=key["trace"],
                                 toplevel=TOPLEVEL)
    return cached_build(build_root, key, config, verilog, TOPLEVEL, make, prefix=_PREFIX)


# Words in and out ---------------------------------------------------------------------------

def _width_words(config):
    return math.ceil(config.word_width / 32)


def _beat_words(config):
    return math.ceil(beat_bits(config) / 32)


def pack_words(words, config):
    """Pack stream words into little-endian 32-bit pieces, as the harness reads them.

    Returns
    -------
    numpy.ndarray of uint32, shape (len(words), ceil(word_width / 32))

    Raises
    ------
    ValueError
        A word is negative or wider than ``config.word_width``: the engine's port would not
        see it as the host meant it.
    """
    width = _width_words(config)
    data = bytearray()
    for index, word in enumerate(words):
        word = int(word)
        if not 0 <= word < (1 << config.word_width):
            raise ValueError(f"word {index} (0x{word:x}) does not fit the engine's "
                             f"{config.word_width}-bit words")
        data += word.to_bytes(4 * width, "little")
    return np.frombuffer(bytes(data), dtype="<u4").reshape(-1, width)


def _unpack(pieces):
    """Stream words (Python ints) from rows of little-endian 32-bit pieces."""
    if pieces.shape[1] == 1:
        return [int(w) for w in pieces[:, 0]]
    return [int.from_bytes(row.astype("<u4").tobytes(), "little") for row in pieces]


def _beat_outputs(beats, config):
    """``(cycle, word)`` of every word of ``(cycle, beat)`` output beats."""
    return [(cycle, word) for cycle, bits in beats for word in unpack_beat(bits, config)]


def run_engine_harness(build, words, *, beats, budget, tail=0, trace_path=None):
    """Run a ``native`` engine build on ``words``.

    Parameters
    ----------
    build : Build
        From :func:`build_engine_simulator` with ``driver="native"``.
    words : list of int
        Input words.
    beats : int
        Output beats to wait for.
    budget : int
        Cycles after which an unfinished run raises :class:`SimulationError`.
    tail : int
        Cycles to go on after the last expected output beat.
    trace_path : path-like, optional
        Waveform to write (the build must have been made with that ``trace``).

    Returns
    -------
    EngineRun
        ``build_s`` is 0 (the caller knows what the build cost).
    """
    if build.driver != "native" or build.toplevel != TOPLEVEL:
        raise ValueError("run_engine_harness needs a native build of the engine "
                         "(build_engine_simulator(..., driver='native'))")
    if trace_path is not None and build.trace is None:
        raise ValueError("this build has no waveform support; build it with trace='vcd' or 'fst'")
    width, out_width = _width_words(build.config), _beat_words(build.config)
    packed = pack_words(words, build.config)
    record = np.dtype([("cycle", "<u8"), ("beat", "<u4", (out_width,))])
    with tempfile.TemporaryDirectory(prefix="systolic-engine-") as tmp:
        tmp = Path(tmp)
        packed.tofile(tmp / "words.bin")
        command = [str(build.directory / "engine_harness"), str(tmp / "words.bin"), str(len(packed)),
                   str(width), str(out_width), str(beats), str(budget), str(tail),
                   str(tmp / "accepted.bin"), str(tmp / "outputs.bin")]
        if trace_path is not None:
            command.append(str(Path(trace_path).resolve()))
        summary, wall_s = run_harness_process(command, "engine harness")
        accepted = np.fromfile(tmp / "accepted.bin", dtype="<u8").tolist()
        seen = np.fromfile(tmp / "outputs.bin", dtype=record)
    outputs = _beat_outputs(zip(seen["cycle"].tolist(),
                                _unpack(seen["beat"].reshape(-1, out_width))), build.config)
    return EngineRun(accepted=accepted, outputs=outputs, cycles=int(summary["cycles"]),
                     wall_s=wall_s, build_s=0.0)


def run_engine_cocotb(build, words, *, beats, budget, tail=0, vcd=None, fst=None):
    """Run :mod:`systolic.sim.backends.cocotb_engine_bench` on a ``cocotb`` engine build.

    Parameters and result as :func:`run_engine_harness`; ``vcd`` or ``fst`` writes a waveform.
    ``wall_s`` is the whole simulator process, start-up included.
    """
    if build.driver != "cocotb" or build.toplevel != TOPLEVEL:
        raise ValueError("run_engine_cocotb needs a cocotb build of the engine "
                         "(build_engine_simulator(..., driver='cocotb'))")
    wave_option(build, vcd, fst)
    pack_words(words, build.config)          # the same refusal of oversized words as the harness
    job = {"words": [format(int(word), "x") for word in words], "beats": beats,
           "budget": budget, "tail": tail}
    data, wall_s = run_cocotb_test(build, BENCH_MODULE, job, vcd=vcd, fst=fst)
    return EngineRun(accepted=data["accepted"],
                     outputs=_beat_outputs([(cycle, int(bits, 16)) for cycle, bits in data["beats"]],
                                           build.config),
                     cycles=data["cycles"], wall_s=wall_s, build_s=0.0)


def _checked_options(backend, driver, vcd, fst):
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if vcd is not None and fst is not None:
        raise ValueError("give vcd or fst, not both")
    driver = driver or ("native" if backend == "verilator" else "cocotb")
    if driver not in DRIVERS:
        raise ValueError(f"driver={driver!r} is unknown; choose one of {', '.join(DRIVERS)}")
    if driver == "native" and backend != "verilator":
        raise ValueError("the native harness is a Verilator testbench; use driver='cocotb' for icarus")
    trace = "vcd" if vcd is not None else "fst" if fst is not None else None
    return driver, trace


def run_engine_words_verilog(config, words, *, beats, budget, tail=0, backend="verilator",
                             driver=None, vcd=None, fst=None, build_dir=None):
    """Offer ``words`` to the engine's Verilog back to back and collect its output words.

    The Verilog counterpart of :func:`~.amaranth_engine.run_engine_words` (same arguments, same
    cycle numbering), on ``backend``; ``driver`` ``None`` picks the compiled harness on
    Verilator and cocotb on Icarus.

    Returns
    -------
    EngineRun
        ``build_s`` is the time spent getting the simulator ready (compiling unless cached).
    """
    _check_config(config)
    driver, trace = _checked_options(backend, driver, vcd, fst)
    started = time.perf_counter()
    build = build_engine_simulator(config, backend, driver, trace=trace, build_root=build_dir)
    build_s = time.perf_counter() - started
    if driver == "native":
        run = run_engine_harness(build, words, beats=beats, budget=budget, tail=tail,
                                 trace_path=vcd if vcd is not None else fst)
    else:
        run = run_engine_cocotb(build, words, beats=beats, budget=budget, tail=tail,
                                vcd=vcd, fst=fst)
    run.build_s = build_s
    return run


def run_engine_gemm_verilog(engine_config, a, b, *, backend="verilator", vcd=None, fst=None,
                            tiling=True, build_dir=None, driver=None):
    """Compute ``A @ B`` on the engine's Verilog in Verilator or Icarus, host-tiled if needed.

    The Verilog counterpart of :func:`~.amaranth_engine.run_engine_gemm`: the same host program
    (:func:`~..engine_tiling.gemm_program`), and ``cycles`` counted the same way, from the cycle
    the first START header is taken to the cycle of the last result word, both counted.

    Parameters
    ----------
    engine_config : EngineConfig
    a, b : array_like of int
        M x K and K x N operands in the configured ranges.
    backend : {"verilator", "icarus"}
    vcd, fst : path-like, optional
        Write a waveform of the run (FST on Verilator; on Icarus where its FST writer is built).
    tiling : bool
        Split a GEMM too big for the buffers into jobs; if False such a GEMM raises
        :class:`~..engine_tiling.JobError` (before anything is compiled).
    build_dir : path-like, optional
        Build cache directory (default :func:`~.verilog_build.default_build_root`).
    driver : {None, "native", "cocotb"}
        ``None`` picks the compiled harness on Verilator, cocotb on Icarus.

    Returns
    -------
    GemmRun
        ``build_s`` covers planning the program and getting the simulator ready (Verilog
        generation, hashing, and compilation unless a cached build was reused); ``wall_s`` is
        the simulator process.

    Raises
    ------
    BackendUnavailable
        When the backend's simulator or build tools are not installed.
    SimulationError
        When the engine hung or gave the wrong number of result words.
    """
    _check_config(engine_config)
    _checked_options(backend, driver, vcd, fst)
    started = time.perf_counter()
    program = gemm_program(a, b, engine_config, tiling=tiling)
    planned = time.perf_counter() - started
    run = run_engine_words_verilog(engine_config, program.words, beats=program.result_beats,
                                   budget=cycle_budget(program, engine_config), backend=backend,
                                   driver=driver, vcd=vcd, fst=fst, build_dir=build_dir)
    words = [word for _, word in run.outputs]
    result = assemble_results(words, program, engine_config)
    cycles = run.outputs[-1][0] - run.accepted[program.first_start] + 1
    return GemmRun(result=result, cycles=cycles, wall_s=run.wall_s,
                   build_s=run.build_s + planned, backend=backend)
