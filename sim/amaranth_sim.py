"""Re-export of :func:`~systolic.sim.backends.amaranth_array.run_array_gemm`.

The array in Amaranth's simulator lives in :mod:`systolic.sim.backends.amaranth_array`; this
module keeps the name ``systolic.sim.amaranth_sim`` that the README imports.
"""

from .backends.amaranth_array import run_array_gemm

__all__ = ["run_array_gemm"]
