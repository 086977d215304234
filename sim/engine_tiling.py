"""Host side of the GEMM engine: command words, job planning and result assembly (numpy only).

It is the host's half of the engine's contract, and it lives here, in the numpy tier of
``systolic.sim``, rather than in ``systolic.host``: the engine models time its programs
(:mod:`.engine_perf`), every simulator backend runs them and the driver
(:mod:`systolic.host.driver`) sends them to boards, and the simulation package must not import
the host package that sits on top of it.

A GEMM larger than the engine's buffers is split into *jobs* that fit: blocks of at most
``max_m`` rows of A and ``max_n`` columns of B, and K chunks of at most ``max_k``
(:func:`~.engine_model.k_chunks`). The chunks of one output block run back to back on the
result buffer (the first overwrites, the others accumulate, the last emits the block), and
jobs alternate between the two operand banks so that the next job's operands load while the
current one computes. A bank that already holds the operands a job needs is not reloaded.
"""

import math
from dataclasses import dataclass

import numpy as np

from ..rtl.engine.config import EngineConfig
from ..rtl.engine.protocol import ARGUMENTS, Flag, Opcode, header
from .engine_model import job_cycles, k_chunks, tile_extents
from .model import check_operands, result_dtype
from .errors import SimulationError

__all__ = [
    "JobError", "EngineJob", "split_blocks", "plan_jobs", "GemmProgram", "gemm_program",
    "load_a_words", "load_b_words", "start_words", "command_words", "result_positions",
    "result_beats", "job_word_count", "cycle_budget",
    "assemble_results",
]


class JobError(ValueError):
    """A GEMM the engine cannot take as asked: a zero dimension, or too big without tiling."""


@dataclass(frozen=True)
class EngineJob:
    """One START: the block ``[m0, m1) x [k0, k1) x [n0, n1)`` of the GEMM.

    Attributes
    ----------
    bank : int
        Operand bank the job reads.
    accumulate, emit : bool
        The START flags: add to the result buffer; send the results.
    load_a, load_b : bool
        Whether the operands must be loaded into the bank first (False if already there).
    """
    m0: int
    m1: int
    k0: int
    k1: int
    n0: int
    n1: int
    bank: int
    accumulate: bool
    emit: bool
    load_a: bool = True
    load_b: bool = True

    @property
    def shape(self):
        """``(m, k, n)`` of the job."""
        return self.m1 - self.m0, self.k1 - self.k0, self.n1 - self.n0


def split_blocks(total, limit, multiple=1):
    """Split ``total`` into the fewest blocks of at most ``limit``, multiples of ``multiple``
    (except the last), as equal as that allows; return ``(start, stop)`` pairs."""
    count = math.ceil(total / limit)
    size = min(limit, multiple * math.ceil(math.ceil(total / count) / multiple))
    return [(start, min(start + size, total)) for start in range(0, total, size)]


def _check_shape(m, k, n):
    for name, value in (("M", m), ("K", k), ("N", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise JobError(f"{name}={value!r}: every dimension of a GEMM must be an integer >= 1")


def plan_jobs(m, k, n, config, *, tiling=True):
    """Return the :class:`EngineJob` list of an ``m x k x n`` GEMM on ``config``.

    Parameters
    ----------
    m, k, n : int
    config : EngineConfig
    tiling : bool
        Split a GEMM too big for the buffers; if False, such a GEMM raises :class:`JobError`.

    Raises
    ------
    JobError
        A dimension is zero (or not an integer), or ``tiling`` is off and the GEMM does not fit.
    """
    if not isinstance(config, EngineConfig):
        raise TypeError(f"plan_jobs needs an EngineConfig, got {type(config).__name__}")
    _check_shape(m, k, n)
    if not tiling and not config.fits(m, k, n):
        over = [f"{name}={value} > {limit}" for name, value, limit in
                (("M", m, config.max_m), ("K", k, config.max_k), ("N", n, config.max_n))
                if value > limit]
        raise JobError(f"a {m}x{k}x{n} GEMM does not fit the engine's buffers "
                       f"({', '.join(over)}) and host tiling was turned off")
    array = config.array
    chunks = k_chunks(k, config)
    jobs = []
    held = {"a": [None, None], "b": [None, None]}   # what each bank holds
    for m0, m1 in split_blocks(m, config.max_m, array.rows):
        for n0, n1 in split_blocks(n, config.max_n, array.cols):
            for c, (k0, k1) in enumerate(chunks):
                bank = len(jobs) % 2
                a_key, b_key = (m0, m1, k0, k1), (k0, k1, n0, n1)
                jobs.append(EngineJob(m0, m1, k0, k1, n0, n1, bank,
                                      accumulate=c > 0, emit=c == len(chunks) - 1,
                                      load_a=held["a"][bank] != a_key,
                                      load_b=held["b"][bank] != b_key))
                held["a"][bank], held["b"][bank] = a_key, b_key
    return jobs


# Command words ------------------------------------------------------------------------------

def _beat_words(blocks, width, per_word, group):
    """Pack ``blocks`` (``[block, k, lane]`` operands) beat by beat: each K step of each block
    in ``group`` words of ``per_word`` operands, lane 0 in the low bits, missing lanes zero."""
    blocks = np.asarray(blocks, dtype=np.int64)
    count, depth, lanes = blocks.shape
    padded = np.zeros((count, depth, group * per_word), dtype=object)
    padded[:, :, :lanes] = blocks & ((1 << width) - 1)
    slots = padded.reshape(-1, per_word)
    shifts = np.array([1 << (slot * width) for slot in range(per_word)], dtype=object)
    return [int(word) for word in (slots * shifts).sum(axis=1)]


def _blocks_of(matrix, lanes):
    """``matrix`` (lanes x K, rows past its end padded with zeros) as ``[block, k, lane]``."""
    rows, depth = matrix.shape
    count = math.ceil(rows / lanes)
    padded = np.zeros((count * lanes, depth), dtype=np.int64)
    padded[:rows] = matrix
    return padded.reshape(count, lanes, depth).transpose(0, 2, 1)


def load_a_words(a, bank, config):
    """Words of ``LOAD_A``: header, M, K, then A beat by beat.

    For each block of ``rows`` rows of A, for each K step, the block's ``rows`` operands of that
    step (row ``i`` of the block is lane ``i``), packed ``a_per_word`` a word into
    ``a_words_per_beat`` words; rows past M are zero. So each word goes to one address of the
    A buffer, and the engine takes one a cycle.

    A weight-stationary engine takes A the other way round (K-block-major): for each block of
    ``rows`` columns of K, for each row of A, the row's operands in the block (column ``k0 + i``
    is lane ``i``; columns past K zero), so that each word is one beat of its array.
    """
    a = np.asarray(a)
    lanes_by_step = a.T if config.array.weight_stationary else a
    return ([header(Opcode.LOAD_A, Flag.BANK if bank else 0), a.shape[0], a.shape[1]]
            + _beat_words(_blocks_of(lanes_by_step, config.array.rows), config.array.a_width,
                          config.a_per_word, config.a_words_per_beat))


def load_b_words(b, bank, config):
    """Words of ``LOAD_B``: header, K, N, then B beat by beat: for each block of ``cols``
    columns, for each K step, the block's ``cols`` operands (columns past N zero), packed
    ``b_per_word`` a word into ``b_words_per_beat`` words."""
    b = np.asarray(b)
    return ([header(Opcode.LOAD_B, Flag.BANK if bank else 0), b.shape[0], b.shape[1]]
            + _beat_words(_blocks_of(b.T, config.array.cols), config.array.b_width,
                          config.b_per_word, config.b_words_per_beat))


def start_words(m, k, n, *, bank=0, accumulate=False, emit=True):
    """Words of ``START``: header with the flags, then M, K, N."""
    flags = ((Flag.BANK if bank else 0) | (Flag.ACCUMULATE if accumulate else 0)
             | (Flag.EMIT if emit else 0))
    return [header(Opcode.START, flags), m, k, n]


def command_words(opcode):
    """The single word of an argument-less command (NOP, READ, STATUS, CLEAR)."""
    return [header(opcode)]


# Whole GEMMs --------------------------------------------------------------------------------

@dataclass
class GemmProgram:
    """The input words of a GEMM and what is needed to read its answer.

    Attributes
    ----------
    words : list of int
        Every input word.
    jobs : list of EngineJob
    m, n : int
        Result shape.
    first_start : int
        Index in ``words`` of the first START header (cycles are counted from it).
    result_words : int
        Output words the program produces (M * N).
    result_beats : int
        Output beats that carry them (a beat is one row of a tile, its columns inside N).
    """
    words: list
    jobs: list
    m: int
    n: int
    first_start: int
    result_words: int
    result_beats: int = 0


def gemm_program(a, b, config, *, tiling=True):
    """Return the :class:`GemmProgram` computing ``A @ B`` on an engine of ``config``.

    Raises
    ------
    OperandError
        Operands not 2-D, empty, not integer, of mismatched inner dimension or out of range.
    JobError
        Too big for the buffers with ``tiling=False``.
    """
    a, b = check_operands(a, b, config.array)
    m, k = a.shape
    n = b.shape[1]
    jobs = plan_jobs(m, k, n, config, tiling=tiling)
    words, first_start = [], None
    for job in jobs:
        if job.load_a:
            words += load_a_words(a[job.m0:job.m1, job.k0:job.k1], job.bank, config)
        if job.load_b:
            words += load_b_words(b[job.k0:job.k1, job.n0:job.n1], job.bank, config)
        if first_start is None:
            first_start = len(words)
        words += start_words(*job.shape, bank=job.bank, accumulate=job.accumulate, emit=job.emit)
    return GemmProgram(words=words, jobs=jobs, m=m, n=n, first_start=first_start,
                       result_words=m * n, result_beats=result_beats(jobs, config))


def cycle_budget(program, config):
    """A generous bound on a program's cycles, so that a simulator's hang ends in an error:
    every job run alone (:func:`~.engine_model.job_cycles`) after its operands were loaded one
    operand a cycle, twice over. Every backend runs with it."""
    total = len(program.words)
    for job in program.jobs:
        m, k, n = job.shape
        total += m * k + k * n + job_cycles(m, k, n, config)
    return 2 * total + 1000


def job_word_count(job, config):
    """Words of a planned job's commands: its LOADs (those it needs) and its START."""
    m, k, n = job.shape
    words = 1 + len(ARGUMENTS[Opcode.START])
    if job.load_a:
        words += 1 + len(ARGUMENTS[Opcode.LOAD_A]) + config.load_words("a", m, k)
    if job.load_b:
        words += 1 + len(ARGUMENTS[Opcode.LOAD_B]) + config.load_words("b", k, n)
    return words


def result_beats(jobs, config):
    """Output beats of the emitting ``jobs``: a beat a row of each tile, ``M * ceil(N / cols)``
    a job."""
    return sum(job.shape[0] * math.ceil(job.shape[2] / config.array.cols)
               for job in jobs if job.emit)


def result_positions(m, n, config):
    """``(rows, cols)`` index arrays: where each result word of an M x N job belongs."""
    array = config.array
    rows, cols = [], []
    for ti, rows_here in enumerate(tile_extents(m, array.rows)):
        for tj, cols_here in enumerate(tile_extents(n, array.cols)):
            for i in range(rows_here):
                rows.extend([ti * array.rows + i] * cols_here)
                cols.extend(range(tj * array.cols, tj * array.cols + cols_here))
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)


def _word_value(word, config):
    """The accumulator value a result word carries (its low ``acc_width`` bits)."""
    array = config.array
    value = word & ((1 << array.acc_width) - 1)
    if array.signed and value >> (array.acc_width - 1):
        value -= 1 << array.acc_width
    return value


def assemble_results(words, program, config):
    """Place the result words of ``program`` into the M x N result.

    Raises
    ------
    SimulationError
        If the number of words is wrong.
    """
    if len(words) != program.result_words:
        raise SimulationError(f"expected {program.result_words} result words, "
                              f"the engine gave {len(words)}")
    result = np.zeros((program.m, program.n), dtype=result_dtype(config.array))
    offset = 0
    for job in program.jobs:
        if not job.emit:
            continue
        m, _, n = job.shape
        rows, cols = result_positions(m, n, config)
        values = [_word_value(w, config) for w in words[offset:offset + m * n]]
        result[job.m0 + rows, job.n0 + cols] = values
        offset += m * n
    return result
