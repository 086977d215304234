"""What the driver sends for one GEMM: engine jobs, their command words, and operand reuse.

The split into jobs and the command words come from :mod:`systolic.sim.engine_tiling`; this
module adds what only a long-lived connection knows: which operands each bank of the board
still holds from earlier calls, so that a ``matmul`` with the same A (or B) block as a
previous one does not send it again. numpy only, no I/O.
"""

import hashlib
from dataclasses import dataclass

from ..rtl.engine.protocol import Opcode
from ..rtl.protocol import Kind
from ..sim.engine_tiling import (GemmProgram, command_words, load_a_words, load_b_words,
                                 plan_jobs, start_words)

__all__ = ["JobCommands", "BankContents", "gemm_jobs", "STATUS_WORDS", "job_messages"]

#: The single word asking the engine for its status word.
STATUS_WORDS = command_words(Opcode.STATUS)


@dataclass(frozen=True)
class JobCommands:
    """One engine job as the driver runs it.

    Attributes
    ----------
    job : EngineJob
        From :func:`~systolic.sim.engine_tiling.plan_jobs`.
    words : list of int
        The LOADs the bank needs (none if it holds the operands already) and the START.
    result_words : int
        Words the job emits (``M * N`` of the job, 0 for an accumulating-only K chunk).
    loaded : tuple of str
        ``"a"`` and/or ``"b"``: the operands this job sends.
    """
    job: object
    words: list
    result_words: int
    loaded: tuple


class BankContents:
    """What each operand bank of the board holds, as digests of the LOAD commands that filled it.

    A LOAD's words (header with the bank, the shape, the packed operands) determine everything
    a later START reads from that bank, so equal digests mean the LOAD can be skipped. The
    driver calls :meth:`forget` whenever the board's state is in doubt (an error, a resync).
    """

    def __init__(self):
        self._held = {}

    def forget(self):
        """Assume nothing is loaded."""
        self._held.clear()

    def needs(self, operand, bank, words):
        """Return True (and record the new contents) unless ``bank`` holds exactly ``words``."""
        digest = hashlib.blake2b(repr(words).encode(), digest_size=16).digest()
        if self._held.get((operand, bank)) == digest:
            return False
        self._held[(operand, bank)] = digest
        return True


def gemm_jobs(a, b, config, banks):
    """Plan ``A @ B`` (already checked operands) on ``config``.

    Parameters
    ----------
    a, b : numpy.ndarray
        Checked M x K and K x N operands (:func:`~systolic.sim.model.check_operands`).
    config : EngineConfig
    banks : BankContents
        Updated as if every returned job runs; the caller forgets it if one does not.

    Returns
    -------
    program : GemmProgram
        For :func:`~systolic.sim.engine_tiling.assemble_results` (its ``words`` are empty: the
        words travel job by job in ``jobs``).
    jobs : list of JobCommands
    """
    m, k = a.shape
    n = b.shape[1]
    planned = plan_jobs(m, k, n, config)
    jobs = []
    for job in planned:
        words, loaded = [], []
        # The tiler already skips a LOAD whose block the bank got earlier in this GEMM (and
        # that earlier LOAD went through `banks`); the digests also catch blocks left there by
        # an earlier call.
        if job.load_a:
            load = load_a_words(a[job.m0:job.m1, job.k0:job.k1], job.bank, config)
            if banks.needs("a", job.bank, load):
                words += load
                loaded.append("a")
        if job.load_b:
            load = load_b_words(b[job.k0:job.k1, job.n0:job.n1], job.bank, config)
            if banks.needs("b", job.bank, load):
                words += load
                loaded.append("b")
        words += start_words(*job.shape, bank=job.bank, accumulate=job.accumulate, emit=job.emit)
        m_job, _, n_job = job.shape
        jobs.append(JobCommands(job, words, m_job * n_job if job.emit else 0, tuple(loaded)))
    program = GemmProgram(words=[], jobs=planned, m=m, n=n, first_start=0, result_words=m * n)
    return program, jobs



def job_messages(job_words, result_words):
    """The driver's requests for one job, in order: ``(Kind.WRITE, n)`` sends the next ``n`` of
    the job's words followed by :data:`STATUS_WORDS`, ``(Kind.READ, n)`` reads ``n`` words.

    A job that emits is written, its results read, then its status asked for and read; one
    that does not has nothing owed, so its STATUS goes with it in one WRITE. The last READ is
    always the status word. (A WRITE or READ longer than a frame's payload goes out in as many
    frames as it needs.)
    """
    status = len(STATUS_WORDS)
    if result_words:
        return [(Kind.WRITE, job_words), (Kind.READ, result_words), (Kind.WRITE, status),
                (Kind.READ, 1)]
    return [(Kind.WRITE, job_words + status), (Kind.READ, 1)]

