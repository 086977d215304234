"""What a GEMM costs on the engine: cycles, words each way and efficiency (numpy only).

:func:`gemm_perf` is the one place every report, sweep and workload asks how long an
``M x K x N`` GEMM takes on an :class:`~systolic.rtl.engine.config.EngineConfig`: the host
tiler's jobs (:func:`~.engine_tiling.plan_jobs`) timed by the exact engine model's clock
(:class:`~.engine_model.EngineClock`, the timing half of the model the RTL is held to cycle
for cycle), job by job: no operand is packed and no word is looked at, so a GEMM's cost takes
time in its number of jobs, not in its size. Operand values do not change the timing.
"""

import math
from dataclasses import asdict, dataclass

from ..rtl.engine.config import EngineConfig
from ..rtl.engine.protocol import ARGUMENTS, Opcode
from .engine_model import EngineClock
from .engine_tiling import job_word_count, plan_jobs, split_blocks

__all__ = ["GemmPerf", "gemm_perf", "job_count", "JOB_LIMIT", "TooManyJobs"]

#: Most jobs :func:`gemm_perf` times (about a second of work); a bigger GEMM raises
#: :class:`TooManyJobs`.
JOB_LIMIT = 200_000


class TooManyJobs(ValueError):
    """A GEMM with more engine jobs than :data:`JOB_LIMIT`: too many to time one by one."""


def job_count(config, m, k, n):
    """Engine jobs of an ``m x k x n`` GEMM on ``config``, without planning them."""
    array = config.array
    blocks = [len(split_blocks(total, limit, multiple)) for total, limit, multiple in
              ((m, config.max_m, array.rows), (n, config.max_n, array.cols))]
    return blocks[0] * blocks[1] * math.ceil(k / config.max_k)


@dataclass(frozen=True)
class GemmPerf:
    """The cost of one GEMM on one engine design (see :func:`gemm_perf`).

    Attributes
    ----------
    m, k, n : int
        The GEMM: ``A`` is M x K, ``B`` K x N.
    macs : int
        Multiply-accumulates of the array (``rows * cols``).
    jobs : int
        Engine jobs (STARTs) the host tiler splits it into.
    cycles : int
        Cycles from the first START command word to the last result word, both counted: the
        first job's operand load is not in it (the figure ``systolic simulate`` reports).
    total_cycles : int
        Cycles from the first input word to the last result word, both counted: everything,
        the first job's load included (what a sustained figure divides by).
    ideal_cycles : float
        ``M*N*K / (R*C)``: every MAC busy on every cycle.
    words_in, words_out : int
        Engine words into the engine (commands, arguments, operands) and out of it (results).
    """

    m: int
    k: int
    n: int
    macs: int
    jobs: int
    cycles: int
    total_cycles: int
    ideal_cycles: float
    words_in: int
    words_out: int

    @property
    def efficiency(self):
        """``ideal_cycles / cycles``."""
        return self.ideal_cycles / self.cycles

    @property
    def sustained_efficiency(self):
        """``ideal_cycles / total_cycles``: the share of peak the GEMM sustains, loads included."""
        return self.ideal_cycles / self.total_cycles

    def ops_per_s(self, clock_hz):
        """Operations a second (two per multiply-accumulate) at ``clock_hz``, loads included."""
        return 2 * self.m * self.k * self.n * clock_hz / self.total_cycles

    def to_dict(self):
        """The fields and the two efficiencies, JSON-serializable."""
        return {**asdict(self), "efficiency": self.efficiency,
                "sustained_efficiency": self.sustained_efficiency}


def gemm_perf(config, m, k, n):
    """Return the :class:`GemmPerf` of an ``m x k x n`` GEMM on an engine of ``config``.

    The host program is the one :func:`~.engine_tiling.gemm_program` writes (each job's LOADs,
    then its START), offered word after word as the simulators offer it; the figures equal
    :class:`~.engine_model.EngineModel`'s on those words.

    Parameters
    ----------
    config : EngineConfig
    m, k, n : int
        Dimensions, each at least 1; GEMMs larger than the buffers are host-tiled.

    Raises
    ------
    TooManyJobs
        If the GEMM takes more than :data:`JOB_LIMIT` jobs.
    """
    if not isinstance(config, EngineConfig):
        raise TypeError(f"gemm_perf needs an EngineConfig, got {type(config).__name__}")
    count = job_count(config, m, k, n)
    if count > JOB_LIMIT:
        raise TooManyJobs(f"a {m}x{k}x{n} GEMM is {count:,} jobs on this engine's "
                          f"{config.max_m}x{config.max_k}x{config.max_n} buffers, more than the "
                          f"{JOB_LIMIT:,} the model times; choose a smaller GEMM or bigger "
                          f"buffers")
    jobs = plan_jobs(m, k, n, config)
    clock = EngineClock(config)
    first_start = None
    for job in jobs:
        job_m, job_k, job_n = job.shape
        for needed, opcode, operand, dims in ((job.load_a, Opcode.LOAD_A, "a", (job_m, job_k)),
                                              (job.load_b, Opcode.LOAD_B, "b", (job_k, job_n))):
            if needed:
                clock.words(1 + len(ARGUMENTS[opcode]))
                clock.load(job.bank, config.load_words(operand, *dims))
        (header, *_) = clock.words(1 + len(ARGUMENTS[Opcode.START]))
        first_start = header if first_start is None else first_start
        clock.start(job_m, job_k, job_n, job.bank, emit=job.emit, words=False)
    last = clock.out_free - 1       # the tiler's last job emits
    array = config.array
    return GemmPerf(m=m, k=k, n=n, macs=array.macs, jobs=len(jobs),
                    cycles=last - first_start + 1, total_cycles=last + 1,
                    ideal_cycles=m * n * k / array.macs,
                    words_in=sum(job_word_count(job, config) for job in jobs), words_out=m * n)
