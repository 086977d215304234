"""How long a simulation or a Verilog generation will take, said before it starts.

A simulation's time is its cycle count (the array's cycle model, :func:`~systolic.sim.model.
gemm_cycles`, or for the engine the exact engine model, :func:`~systolic.sim.engine_perf.
gemm_perf`, loads included) times the backend's seconds per cycle, which grow with the array's MACs. The rates below were
measured on this project's 2-core CI machine (``BENCHMARKS.md``, "How a run's length is
estimated"); they are estimates, good to a factor of two or so, meant to tell seconds from hours.

Commands refuse a run whose estimate is above :data:`LIMIT_S` (naming a faster backend when
there is one, and ``--force``), and one whose operands, results and command words would not
fit in the machine's memory at all.
"""

import math
import os
from dataclasses import dataclass

from .errors import UsageError
from .output import format_duration

__all__ = ["LIMIT_S", "SHOW_S", "SIM_SECONDS_PER_CYCLE", "GENERATE_SECONDS_PER_PE",
           "SimulationEstimate", "estimate_simulation", "check_simulation", "generate_seconds",
           "available_memory", "BYTES_PER_ELEMENT", "gemm_cycles_of_passes"]

#: Estimates above this many seconds are refused unless ``--force`` is given.
LIMIT_S = 600.0
#: Steps expected to take longer than this many seconds show their estimate and progress.
SHOW_S = 5.0

#: Seconds per simulated cycle, ``(fixed, per MAC)``, by backend and target.
SIM_SECONDS_PER_CYCLE = {
    ("amaranth", "engine"): (0.0, 47e-6),
    ("amaranth", "array"): (0.0, 21e-6),
    ("verilator", "engine"): (1.0e-6, 0.03e-6),
    ("verilator", "array"): (0.6e-6, 0.008e-6),
    # Not measured here (no Icarus on the CI machine): taken as slow as Amaranth's simulator,
    # which errs towards refusing and pointing at Verilator.
    ("icarus", "engine"): (0.0, 47e-6),
    ("icarus", "array"): (0.0, 21e-6),
}
#: Seconds ``systolic generate`` takes per processing element (elaboration and Yosys).
GENERATE_SECONDS_PER_PE = 0.027
#: Bytes a run holds per matrix element, all copies counted (operands, their command words as
#: Python integers, results as Python integers in the models): a generous bound.
BYTES_PER_ELEMENT = 200
#: The backend to suggest instead of a slow one.
_FASTER = {"amaranth": "verilator", "icarus": "verilator"}


@dataclass(frozen=True)
class SimulationEstimate:
    """What a simulation will cost, before it runs.

    Attributes
    ----------
    cycles : int
        Cycles of the array's cycle model for the GEMM.
    seconds : float
        Estimated wall time of the simulation (compilation not included).
    memory_bytes : int
        Memory the run needs at most, about.
    """

    cycles: int
    seconds: float
    memory_bytes: int


def gemm_cycles_of_passes(config, m, k, n):
    """:func:`~systolic.sim.model.gemm_cycles` without listing every pass.

    Passes of the same length (K beats output-stationary, M weight-stationary) follow each
    other at a constant distance, so the count is the first pass's cycles plus that distance
    for each pass after it: the same figure, in constant time and memory for any GEMM.
    """
    from ..sim.model import array_cycles, gemm_passes
    from ..sim.ws_model import ws_gemm_passes
    if config.weight_stationary:
        passes, beats = ws_gemm_passes(k, n, config), m
    else:
        passes, beats = gemm_passes(m, n, config), k
    first = array_cycles([beats], config)
    return first + (passes - 1) * (array_cycles([beats, beats], config) - first)


def estimate_simulation(config, m, k, n, *, backend, target):
    """Return the :class:`SimulationEstimate` of an ``m x k x n`` GEMM on ``config`` (an
    ``ArrayConfig``, or an ``EngineConfig`` for the engine)."""
    from ..rtl.engine.config import EngineConfig
    if isinstance(config, EngineConfig):
        from ..sim.engine_perf import JOB_LIMIT, gemm_perf, job_count
        macs = config.array.macs
        # Beyond the jobs the model times, the ideal cycles: already far too many to simulate.
        cycles = (gemm_perf(config, m, k, n).total_cycles
                  if job_count(config, m, k, n) <= JOB_LIMIT else math.ceil(m * k * n / macs))
    else:
        cycles, macs = gemm_cycles_of_passes(config, m, k, n), config.macs
    fixed, per_mac = SIM_SECONDS_PER_CYCLE[(backend, target)]
    return SimulationEstimate(cycles=cycles, seconds=cycles * (fixed + per_mac * macs),
                              memory_bytes=BYTES_PER_ELEMENT * (m * k + k * n + m * n))


def available_memory():
    """Bytes of memory available to a new allocation (``MemAvailable``), or ``None``."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return None


def check_simulation(config, m, k, n, *, backend, target, force=False):
    """Refuse (:class:`UsageError`) a simulation that would not fit in memory, or that would
    take longer than :data:`LIMIT_S` unless ``force``; return its estimate otherwise.
    ``config`` as for :func:`estimate_simulation`."""
    estimate = estimate_simulation(config, m, k, n, backend=backend, target=target)
    memory = available_memory()
    gemm = f"a {m}x{k}x{n} GEMM"
    if memory is not None and estimate.memory_bytes > memory:
        raise UsageError(f"{gemm} needs about {estimate.memory_bytes / 2**30:,.1f} GiB of "
                         f"memory to simulate, and {memory / 2**30:,.1f} GiB are available; "
                         f"choose smaller --m/--k/--n")
    if estimate.seconds > LIMIT_S and not force:
        hint = ""
        faster = _FASTER.get(backend)
        if faster:
            quicker = estimate_simulation(config, m, k, n, backend=faster, target=target)
            hint = (f"--backend {faster} would take about {format_duration(quicker.seconds)} "
                    f"(plus its compilation); ")
        raise UsageError(f"{gemm} is {estimate.cycles:,} cycles, about "
                         f"{format_duration(estimate.seconds)} on the {backend} backend "
                         f"(limit {format_duration(LIMIT_S)}): {hint}use smaller --m/--k/--n, "
                         f"or --force to run it anyway")
    return estimate


def generate_seconds(config):
    """Estimated seconds to generate the Verilog of an array of ``config``."""
    return GENERATE_SECONDS_PER_PE * config.macs
