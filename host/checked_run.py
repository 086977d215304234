"""A GEMM on simulated hardware, checked against the numpy models: the core of
``systolic simulate``, which the demo runs too."""

import numpy as np

from ..sim.errors import BackendUnavailable
from .errors import UsageError

__all__ = ["simulate_and_check", "simulate_engine_and_check", "check_fits"]


def _report(run, shape, array, model_cycles, matches, **more):
    """The report both checks return: ``matches``, the cycles against the model's and the
    ideal, the run's times, the shape and the design (``more`` before ``cycles_match``)."""
    from ..sim.model import ideal_cycles
    m, k, n = shape
    ideal = ideal_cycles(m, k, n, array)
    report = {**matches, "cycles": run.cycles, "model_cycles": model_cycles,
              "ideal_cycles": ideal, "efficiency": ideal / run.cycles, "backend": run.backend,
              "wall_s": run.wall_s, "build_s": run.build_s,
              "sim_macs_per_s": m * n * k / run.wall_s if run.wall_s > 0 else None,
              "m": m, "k": k, "n": n, "config": array.to_dict(), **more}
    report["cycles_match"] = report["cycles"] == report["model_cycles"]
    return report


def simulate_and_check(config, a, b, *, backend="amaranth", vcd=None, fst=None):
    """Run the GEMM on the bare array on ``backend`` and compare with the model; return
    ``(run, report dict)``."""
    from ..sim.model import matmul, gemm_cycles
    from ..sim.backends.runner import run_gemm
    m, k = a.shape
    n = b.shape[1]
    try:
        run = run_gemm(config, a, b, backend=backend, vcd=vcd, fst=fst)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    matches = {"match": bool(np.array_equal(run.result, matmul(a, b, config)))}
    return run, _report(run, (m, k, n), config, gemm_cycles(m, k, n, config), matches)


def simulate_engine_and_check(engine_config, a, b, *, backend="amaranth", vcd=None, fst=None,
                              tiling=True):
    """Run the GEMM on the engine on ``backend`` and compare with the engine's numpy model.

    ``match`` compares with :func:`~systolic.sim.engine_model.engine_matmul` (the engine's
    arithmetic, K-chunk accumulation included); ``matmul_match`` with the array's one-pass
    :func:`~systolic.sim.model.matmul`, which the engine's arithmetic equals for every buffer
    size (both are kept: two independent checks). ``model_cycles`` is
    :class:`~systolic.sim.engine_model.EngineModel`'s count for the same command words.

    Returns
    -------
    run : GemmRun
    report : dict

    Raises
    ------
    UsageError
        The GEMM does not fit the buffers and ``tiling`` is off, or the backend is missing.
    """
    from ..sim.engine_model import EngineModel, engine_matmul
    from ..sim.engine_tiling import gemm_program
    from ..sim.model import matmul
    from ..sim.backends.runner import run_engine
    array = engine_config.array
    m, k = a.shape
    n = b.shape[1]
    if not tiling:
        check_fits(engine_config, m, k, n)
    program = gemm_program(a, b, engine_config, tiling=tiling)
    try:
        run = run_engine(engine_config, a, b, backend=backend, vcd=vcd, fst=fst, tiling=tiling)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    trace = EngineModel(engine_config).run(program.words)
    matches = {"match": bool(np.array_equal(run.result, engine_matmul(a, b, engine_config))),
               "matmul_match": bool(np.array_equal(run.result, matmul(a, b, array)))}
    model_cycles = trace.outputs[-1][0] - trace.accepted[program.first_start] + 1
    return run, _report(run, (m, k, n), array, model_cycles, matches, target="engine",
                        engine=engine_config.to_dict(), jobs=len(program.jobs))


def check_fits(engine_config, m, k, n):
    """Refuse (``UsageError``) an ``m x k x n`` GEMM that does not fit the buffers as one job."""
    from ..sim.engine_tiling import JobError, plan_jobs
    try:
        plan_jobs(m, k, n, engine_config, tiling=False)
    except JobError as exc:
        raise UsageError(f"{exc}; drop --no-tiling, or raise --k-depth/--m-blocks/--n-blocks") from None
