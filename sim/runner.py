"""One entry point that runs a GEMM on any simulator backend."""

__all__ = ["BACKENDS", "BackendUnavailable", "run_gemm"]

#: Simulators a GEMM can run on; ``amaranth`` needs nothing beyond the package itself.
BACKENDS = ("amaranth",)


class BackendUnavailable(RuntimeError):
    """The chosen simulator is not installed; the message says how to get it."""


def run_gemm(config, a, b, *, backend="amaranth", vcd=None, fst=None):
    """Run ``A @ B`` on the simulated array with ``backend`` and return a :class:`GemmRun`.

    Parameters
    ----------
    config : ArrayConfig
    a, b : array_like of int
    backend : str
        One of :data:`BACKENDS`.
    vcd, fst : path-like, optional
        Waveform to write (``fst`` only where the backend supports it).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r} is unknown; choose one of {', '.join(BACKENDS)}")
    if fst is not None:
        raise BackendUnavailable(f"the {backend} backend writes VCD only; use --vcd")
    from .amaranth_sim import run_array_gemm
    return run_array_gemm(config, a, b, vcd=vcd)
