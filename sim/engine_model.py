"""The numpy model of the GEMM engine: exact results and exact cycle counts.

Like :mod:`.model`, this imports numpy and our stdlib-only config modules, never Amaranth.

Two levels:

* :func:`engine_matmul` is the result of a GEMM as the engine computes it, K-chunk
  accumulation included; :func:`job_timing` and :func:`job_cycles` give the cycles of one job.
* :class:`EngineModel` runs a stream of command words the way the engine's decoder does:
  it keeps the buffers' contents and the engine's timing state, and returns the cycle each
  input word is taken and every output word with its cycle. Tests hold the RTL to it word
  for word and cycle for cycle, garbage commands included.

**Timing conventions.** Cycle numbers count clock cycles from the first cycle the host offers a
word (cycle 0). The host offers the next word as soon as one is taken, and takes every output
word on the cycle it appears. A job's *launch* is the cycle its ``START`` leaves the decoder
(``START`` header at ``h``, its three arguments on ``h+1 .. h+3``, launch at ``h+4`` on an idle
engine). Then:

* the first beat reaches the array at ``launch + 3`` (``+ read_address_stages``) and passes
  follow
  :func:`~.model.schedule_passes`; row ``i`` of a pass leaves the array
  ``result_latency + i`` cycles after the pass's last beat, and is written to the result
  buffer the cycle after (``1 + result_write_stages`` cycles after);
* a written row may be read from the cycle after its write, and one read fetches a row whose
  ``c`` columns inside N go out on the ``c`` cycles from the third after it (they pass
  through the drain's two select stages); the next row is fetched two cycles before the
  current row's last word, so rows follow each other without a gap;
* the engine is free two cycles after the last row leaves the array and one cycle after the
  last result word; a waiting ``START`` or ``READ`` is taken on the cycle after that (the
  decoder waits on a registered copy of the busy flags), and a ``STATUS`` on the cycle after
  the last word owed is out of the way.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from ..rtl.engine_config import EngineConfig
from ..rtl.engine_protocol import (ALLOWED_FLAGS, ARGUMENTS, HEADER_BITS, MAGIC, ErrorCode,
                                   Opcode, status_word)
from .model import check_operands, matmul, result_dtype, saturate, schedule_passes, wrap

__all__ = [
    "k_chunks", "accumulate", "engine_matmul", "tile_extents", "JobTiming", "job_timing",
    "job_cycles", "EngineTrace", "EngineModel", "LAUNCH_DELAY", "FIRST_BEAT_DELAY",
    "DRAIN_DELAY", "READ_DELAY", "WAIT_LAG",
]

#: Cycles from a START header to the launch, when the engine is idle (three argument words).
LAUNCH_DELAY = 4
#: Cycles from the launch to the first beat accepted by the array (launch pulse, the feeder's
#: first read, the read register).
FIRST_BEAT_DELAY = 3
#: Cycles from the drain's fetch of a row to the row's first word (the read register, the
#: drain's two select stages).
DRAIN_DELAY = 3
#: Cycles from the decoder taking a READ (the engine free) to the first result word (the read
#: pulse, the drain's first fetch, then the drain's delay).
READ_DELAY = 2 + DRAIN_DELAY
#: Cycles the decoder's waits lag the engine's busy flags (it waits on registered copies).
WAIT_LAG = 1


def k_chunks(k, config):
    """Split K into the fewest chunks of at most ``config.max_k``, as equal as possible.

    Returns a list of ``(k0, k1)`` half-open ranges, longer chunks first. Equal chunks keep
    every pass long enough for the array to run back to back (a last chunk of K=1 would not).
    """
    if k < 1:
        raise ValueError(f"K must be at least 1, got {k}")
    count = math.ceil(k / config.max_k)
    base, extra = divmod(k, count)
    bounds, start = [], 0
    for c in range(count):
        size = base + (1 if c < extra else 0)
        bounds.append((start, start + size))
        start += size
    return bounds


def accumulate(old, part, array):
    """The result buffer's accumulation of a chunk's products ``part`` onto ``old``.

    With ``overflow="wrap"`` the sum wraps at ``acc_width``, so chunking changes nothing.
    With ``"saturate"`` the array saturates every step of a chunk starting from zero, and the
    buffer then clamps ``old + part`` once: the result of chunks ``P0 .. Pn`` is
    ``sat(... sat(sat(P0 + P1) + P2) ... + Pn)``. This equals :func:`~.model.matmul` whenever
    no partial sum leaves the accumulator range, and may differ from it otherwise.
    """
    total = np.asarray(old, dtype=object) + np.asarray(part, dtype=object)
    if array.overflow == "wrap":
        return wrap(total, array.acc_width, array.signed)
    return saturate(total, *array.acc_range)


def engine_matmul(a, b, config):
    """Return ``A @ B`` exactly as the engine computes it with the host tiler's K chunks.

    Parameters
    ----------
    a : array_like of int, shape (M, K)
    b : array_like of int, shape (K, N)
    config : EngineConfig

    Returns
    -------
    numpy.ndarray, shape (M, N), dtype as :func:`~.model.result_dtype`
    """
    array = config.array
    a, b = check_operands(a, b, array)
    result = None
    for k0, k1 in k_chunks(a.shape[1], config):
        part = matmul(a[:, k0:k1], b[k0:k1], array)
        result = part.astype(object) if result is None else accumulate(result, part, array)
    return np.asarray(result).astype(result_dtype(array))


def tile_extents(total, step):
    """Sizes of the blocks of ``step`` that cover ``total`` (the last one may be shorter)."""
    return [min(step, total - start) for start in range(0, total, step)]


# One job ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobTiming:
    """Cycle numbers of one job, all absolute.

    Attributes
    ----------
    launch : int
        The cycle the decoder launched the job.
    last_beat : int
        The cycle the array took the job's last beat; its bank is free from the next cycle.
    last_row : int
        The cycle the job's last row left the array.
    words : list of int
        The cycle of each result word, if the job emits (else empty).
    busy_free : int
        First cycle with no array work of the job in flight (rows all written).
    out_free : int or None
        First cycle with no result word owed (None if the job does not emit).
    """
    launch: int
    last_beat: int
    last_row: int
    words: list = field(repr=False)
    busy_free: int = 0
    out_free: int | None = None


def job_timing(m, k, n, config, launch, *, emit=True):
    """Return the :class:`JobTiming` of an ``m x k x n`` job launched on cycle ``launch``."""
    array = config.array
    rows_in_tile = tile_extents(m, array.rows)
    cols_in_tile = tile_extents(n, array.cols)
    tiles = [(ti, tj) for ti in range(len(rows_in_tile)) for tj in range(len(cols_in_tile))]
    first_beat = launch + FIRST_BEAT_DELAY + config.read_address_stages
    schedule = schedule_passes([k] * len(tiles), array)
    last_beat = first_beat + schedule[-1].last_beat
    last_row = first_beat + schedule[-1].last_row
    words = []
    out_free = None
    if emit:
        # `moved`: cycle the previous row's last element left the read register (its word goes
        # out DRAIN_DELAY - 1 cycles later); the drain is armed at launch + 2.
        moved = launch + 2
        for (ti, tj), passed in zip(tiles, schedule):
            cols = cols_in_tile[tj]
            for i in range(rows_in_tile[ti]):
                leaves = first_beat + passed.first_row + i
                fetch = max(leaves + 2 + config.result_write_stages, moved)
                words.extend(range(fetch + DRAIN_DELAY, fetch + cols + DRAIN_DELAY))
                moved = fetch + cols
        out_free = moved + DRAIN_DELAY
    return JobTiming(launch=launch, last_beat=last_beat, last_row=last_row, words=words,
                     busy_free=last_row + 2, out_free=out_free)


def job_cycles(m, k, n, config):
    """Cycles of one emitting job on an idle engine, from its START header to its last result
    word, both counted (operands already loaded)."""
    return job_timing(m, k, n, config, LAUNCH_DELAY).words[-1] + 1


# The engine, word by word -------------------------------------------------------------------

@dataclass
class EngineTrace:
    """What the engine did with a stream of words.

    Attributes
    ----------
    accepted : list of int
        The cycle each input word was taken (shorter than the input if the engine stopped
        taking words, which only a command cut short at the end of the input does).
    outputs : list of (int, int)
        ``(cycle, word)`` of every output word, in order.
    jobs : list of JobTiming
        Every launched job.
    starts : list of int
        The cycle of the header of every launched job's START.
    """
    accepted: list = field(default_factory=list)
    outputs: list = field(default_factory=list)
    jobs: list = field(default_factory=list)
    starts: list = field(default_factory=list)


class EngineModel:
    """The engine as a function of its input words: buffer contents, results, status, cycles.

    Each :meth:`run` starts from reset (empty buffers, no error, no job); the state it ends in
    stays readable in the attributes until the next run.

    Parameters
    ----------
    config : EngineConfig
    """

    def __init__(self, config):
        if not isinstance(config, EngineConfig):
            raise TypeError(f"EngineModel needs an EngineConfig, got {type(config).__name__}")
        self.config = config
        self.reset()

    def reset(self):
        """Return to the state after reset: buffers zero, no error, no job."""
        config, array = self.config, self.config.array
        self.a_mem = np.zeros((2 * config.a_bank_words, array.rows), dtype=np.int64)
        self.b_mem = np.zeros((2 * config.b_bank_words, array.cols), dtype=np.int64)
        self.c_mem = np.zeros((config.result_rows, array.cols), dtype=object)
        self.error = False
        self.code = ErrorCode.NONE
        self.jobs_started = 0
        self.job = None           # (m, k, n, bank, accumulate, emit) of the last launch
        self.timing = None        # JobTiming of the last launch

    # Decoding helpers ------------------------------------------------------------------------

    def _refuse(self, code):
        self.error = True
        self.code = code

    def _header(self, word):
        """Return ``(opcode, flags)`` of a well-formed header, or refuse it and return None."""
        if (word >> HEADER_BITS) or ((word >> 16) & 0xff) or ((word >> 24) & 0xff) != MAGIC:
            self._refuse(ErrorCode.BAD_HEADER)
            return None
        opcode, flags = word & 0xff, (word >> 8) & 0xff
        if opcode not in set(Opcode):
            self._refuse(ErrorCode.BAD_OPCODE)
            return None
        opcode = Opcode(opcode)
        if flags & ~int(ALLOWED_FLAGS[opcode]):
            self._refuse(ErrorCode.BAD_HEADER)
            return None
        return opcode, flags

    def _limits(self, opcode):
        config = self.config
        limit = {"m": config.max_m, "k": config.max_k, "n": config.max_n}
        return [limit[name] for name in ARGUMENTS[opcode]]

    def _operand(self, word, index, width):
        value = (word >> (index * width)) & ((1 << width) - 1)
        if self.config.array.signed and value >> (width - 1):
            value -= 1 << width
        return value

    def _busy(self, cycle):
        """The engine's busy flag (array work in flight) on ``cycle``."""
        return (self.timing is not None
                and self.timing.launch + 1 <= cycle < self.timing.busy_free)

    def _bank_free(self, bank):
        """First cycle the feeder is no longer reading ``bank``."""
        if self.job is None or self.job[3] != bank:
            return 0
        return self.timing.last_beat + 1

    def _busy_free(self):
        return 0 if self.timing is None else self.timing.busy_free

    def _free(self, out_free):
        """First cycle a waiting START or READ is taken (no array work, no word owed)."""
        return max(self._busy_free(), out_free) + WAIT_LAG

    # Effects -------------------------------------------------------------------------------

    def _load(self, opcode, bank, dims, data_words):
        """Write the operands of a LOAD's data words into the bank, as the loader does."""
        config, array = self.config, self.config.array
        if opcode == Opcode.LOAD_A:
            m, k = dims
            width, per_word, mem = array.a_width, config.a_per_word, self.a_mem
            base = bank * config.a_bank_words
            count = m * k
        else:
            k, n = dims
            width, per_word, mem = array.b_width, config.b_per_word, self.b_mem
            base = bank * config.b_bank_words
            count = k * n
        for e in range(min(count, len(data_words) * per_word)):
            value = self._operand(data_words[e // per_word], e % per_word, width)
            if opcode == Opcode.LOAD_A:
                row, kk = divmod(e, k)
                mem[base + (row // array.rows) * config.k_depth + kk, row % array.rows] = value
            else:
                kk, col = divmod(e, n)
                mem[base + (col // array.cols) * config.k_depth + kk, col % array.cols] = value

    def _compute(self, m, k, n, bank, accumulate_flag):
        """Run the job's passes on the buffers: every padded tile, as the array does."""
        config, array = self.config, self.config.array
        rows, cols, depth = array.rows, array.cols, config.k_depth
        tiles_m, tiles_n = math.ceil(m / rows), math.ceil(n / cols)
        a_words = self.a_mem[bank * config.a_bank_words:][:tiles_m * depth]
        b_words = self.b_mem[bank * config.b_bank_words:][:tiles_n * depth]
        # A[ti*R + i, kk] is lane i of word ti*depth + kk (likewise B, by columns).
        a = a_words.reshape(tiles_m, depth, rows)[:, :k, :].transpose(0, 2, 1).reshape(-1, k)
        b = b_words.reshape(tiles_n, depth, cols)[:, :k, :].transpose(1, 0, 2).reshape(k, -1)
        product = matmul(a, b, array).astype(object)
        for ti in range(tiles_m):
            for tj in range(tiles_n):
                base = (ti * tiles_n + tj) * rows
                part = product[ti * rows:(ti + 1) * rows, tj * cols:(tj + 1) * cols]
                old = self.c_mem[base:base + rows]
                self.c_mem[base:base + rows] = accumulate(old, part, array) if accumulate_flag else part

    def _result_words(self, m, n):
        """The words of an M x N result in drain order, from the result buffer."""
        array = self.config.array
        mask = (1 << self.config.word_width) - 1
        tiles_n = math.ceil(n / array.cols)
        words = []
        for ti, rows_here in enumerate(tile_extents(m, array.rows)):
            for tj, cols_here in enumerate(tile_extents(n, array.cols)):
                base = (ti * tiles_n + tj) * array.rows
                for i in range(rows_here):
                    words.extend(int(v) & mask for v in self.c_mem[base + i, :cols_here])
        return words

    # The decoder ---------------------------------------------------------------------------

    def run(self, words):
        """Feed ``words`` (ints) to the engine back to back; return an :class:`EngineTrace`."""
        self.reset()
        config = self.config
        words = [int(w) for w in words]
        trace = EngineTrace()
        out_free = 0      # first cycle no output word is owed
        now = 0           # first cycle the decoder may take the next word
        index = 0
        while index < len(words):
            head = now
            trace.accepted.append(head)
            parsed = self._header(words[index])
            index += 1
            now = head + 1
            if parsed is None:
                continue
            opcode, flags = parsed
            bank = flags & 1

            if opcode in ARGUMENTS:
                names = ARGUMENTS[opcode]
                args = words[index:index + len(names)]
                trace.accepted.extend(range(head + 1, head + 1 + len(args)))
                index += len(args)
                now = head + 1 + len(args)
                if len(args) < len(names):
                    break                       # cut short: the decoder waits for more
                # The shape is checked on the cycle after its last argument.
                if any(value == 0 for value in args):
                    self._refuse(ErrorCode.ZERO_SHAPE)
                    now += 1
                    continue
                if any(value > limit for value, limit in zip(args, self._limits(opcode))):
                    self._refuse(ErrorCode.TOO_BIG)
                    now += 1
                    continue
                dims = dict(zip(names, args))

                if opcode == Opcode.START:
                    launch = max(now, self._free(out_free))
                    m, k, n = dims["m"], dims["k"], dims["n"]
                    accumulate_flag, emit = bool(flags & 2), bool(flags & 4)
                    self._compute(m, k, n, bank, accumulate_flag)
                    self.job = (m, k, n, bank, accumulate_flag, emit)
                    self.timing = job_timing(m, k, n, config, launch, emit=emit)
                    self.jobs_started += 1
                    trace.jobs.append(self.timing)
                    trace.starts.append(head)
                    if emit:
                        trace.outputs.extend(zip(self.timing.words, self._result_words(m, n)))
                        out_free = self.timing.out_free
                    now = launch + 1
                else:
                    per_word = config.a_per_word if opcode == Opcode.LOAD_A else config.b_per_word
                    count = math.prod(args)
                    data = words[index:index + math.ceil(count / per_word)]
                    index += len(data)
                    first = max(now, self._bank_free(bank))
                    trace.accepted.extend(first + j * per_word for j in range(len(data)))
                    self._load(opcode, bank, args, data)
                    if len(data) * per_word < count:
                        break                   # cut short
                    now = first + count + 1

            elif opcode == Opcode.READ:
                if self.job is None:
                    self._refuse(ErrorCode.NO_RESULT)
                    continue
                start = max(now, self._free(out_free))
                m, n = self.job[0], self.job[2]
                result = self._result_words(m, n)
                first = start + READ_DELAY
                trace.outputs.extend(zip(range(first, first + len(result)), result))
                out_free = first + len(result)
                now = start + 1

            elif opcode == Opcode.STATUS:
                at = max(now, out_free + WAIT_LAG)
                word = status_word(self._busy(at), self.error, self.code, self.jobs_started)
                trace.outputs.append((at + 1, word))
                out_free = at + 2
                now = at + 1

            elif opcode == Opcode.CLEAR:
                self.error = False
                self.code = ErrorCode.NONE
        return trace
