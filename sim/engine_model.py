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
beat on the cycle it appears. A word reaches the decoder through a register slice that holds
two words: the decoder can take it from the cycle after the engine took it, and the engine
takes a word on the cycle after the word before it and after the decoder took the word two
before it (:meth:`EngineClock.accepts`). The cycles below are the decoder's. A job's *launch*
is the cycle its ``START`` leaves the decoder (``START`` header at ``h``, its three arguments on
``h+1 .. h+3``, launch at ``h+4`` on an idle engine). With ``L = config.buffer_latency``:

* a LOAD's data words are taken one a cycle, from the second cycle after its last argument
  (or from the second cycle after the feeder has left the bank);
* the first beat reaches the array at ``launch + 2 + L`` (``+ read_address_stages``) and
  passes follow :func:`~.model.schedule_passes`; row ``i`` of a pass leaves the array
  ``result_latency + i`` cycles after the pass's last beat, and is written to the result
  buffer ``result_write_delay`` cycles after (``L``, plus registers where the buffers are
  distributed or read through an output register);
* the drain takes the rows in the order they are written, one a cycle, each from the cycle
  after its write: a row inside M is fetched and leaves as one output beat ``L + 1`` cycles
  later (the read, the output register; one more where the read's address is registered
  beside the buffer, ``drain_address_stages``), carrying the row's columns inside N; a
  padding row (past M) takes its cycle and sends nothing (which only a READ, whose rows are
  all written, ever waits for);
* the engine is free the cycle after the last row is written and the cycle after the last
  output beat; a waiting ``START`` or ``READ`` is taken on the cycle after that (the decoder
  waits on a registered copy of the busy flags), and a ``STATUS`` on the cycle after the last
  beat owed is out of the way.
"""

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..rtl.engine.config import EngineConfig
from ..rtl.engine.protocol import (ALLOWED_FLAGS, ARGUMENTS, HEADER_BITS, MAGIC, ErrorCode,
                                   Opcode, status_word)
from .model import check_operands, matmul, result_dtype, saturate, schedule_passes, wrap

__all__ = [
    "k_chunks", "engine_matmul", "tile_extents", "JobTiming", "job_timing",
    "job_cycles", "EngineTrace", "EngineModel", "LAUNCH_DELAY", "first_beat_delay",
    "drain_delay", "read_delay", "WAIT_LAG", "output_beats", "EngineClock",
]

#: Cycles from the decoder taking a START header to the launch, when the engine is idle (three
#: argument words).
LAUNCH_DELAY = 4


def first_beat_delay(config):
    """Cycles from the launch to the first beat accepted by the array: the launch pulse, the
    feeder's first read, the buffer's ``buffer_latency`` (and the distributed buffers' address
    copies)."""
    return 2 + config.buffer_latency + config.read_address_stages


def drain_delay(config):
    """Cycles from the drain's fetch of a result row to its output beat: the read
    (``drain_read_stages``: the address registered beside the buffer where it is, and the
    buffer's read) and the output register."""
    return config.drain_read_stages + 1


def read_delay(config):
    """Cycles from the decoder taking a READ (the engine free) to the first result beat: the
    read pulse, the drain's first queued request, its fetch, then :func:`drain_delay`."""
    return 3 + drain_delay(config)


#: Cycles the decoder's waits lag the engine's busy flags (it waits on registered copies).
WAIT_LAG = 1
#: Cycles a LOAD's wait for the feeder to leave its bank lags the feeder (the loader waits on a
#: registered copy of its busy flag).
BANK_WAIT_LAG = 1


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


def engine_matmul(a, b, config):
    """Return ``A @ B`` exactly as the engine computes it with the host tiler's K chunks.

    The same as :func:`~.model.matmul` on the whole K, whatever the chunks: a wrapping
    accumulator's sum does not depend on how it is split, and a saturating engine continues
    each chunk from the partial sum of the chunks before (its array preloads it), so its
    accumulator clamps at every step of the whole K in order ``k = 0, 1, ...``.

    Parameters
    ----------
    a : array_like of int, shape (M, K)
    b : array_like of int, shape (K, N)
    config : EngineConfig

    Returns
    -------
    numpy.ndarray, shape (M, N), dtype as :func:`~.model.result_dtype`
    """
    return matmul(a, b, config.array)


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
        The cycle of each result word, if the job emits and they were asked for (else empty):
        a row's words share the cycle of its output beat.
    busy_free : int
        First cycle with no array work of the job in flight (rows all written).
    out_free : int or None
        First cycle with no result beat owed (None if the job does not emit).
    """
    launch: int
    last_beat: int
    last_row: int
    words: list = field(repr=False)
    busy_free: int = 0
    out_free: int | None = None


def job_timing(m, k, n, config, launch, *, emit=True, words=True):
    """Return the :class:`JobTiming` of an ``m x k x n`` job launched on cycle ``launch``.

    ``words=False`` leaves out the cycle of every result word (``out_free`` is still there):
    the passes are back to back (each pass's last beat ``max(K, min_pass_spacing)`` after the
    previous one's), so the job's figures are closed forms, whatever its size. A
    weight-stationary engine's jobs are timed by :func:`~.ws_engine_model.ws_job_timing`.
    """
    array = config.array
    if array.weight_stationary:
        from .ws_engine_model import ws_job_timing
        return ws_job_timing(m, k, n, config, launch, emit=emit, words=words)
    rows_in_tile = tile_extents(m, array.rows)
    cols_in_tile = tile_extents(n, array.cols)
    passes = len(rows_in_tile) * len(cols_in_tile)
    first_beat = launch + first_beat_delay(config)
    last_beat = first_beat + k - 1 + (passes - 1) * max(k, array.min_pass_spacing)
    last_row = last_beat + array.result_latency + array.rows - 1
    write_delay = config.result_write_delay
    cycles = []
    out_free = None
    if emit and words:
        # Rows are fetched one a cycle, each from the cycle after its write; the drain is
        # armed at launch + 2.
        tiles = [(ti, tj) for ti in range(len(rows_in_tile)) for tj in range(len(cols_in_tile))]
        fetch = launch + 1
        for (ti, tj), passed in zip(tiles, schedule_passes([k] * passes, array)):
            for i in range(rows_in_tile[ti]):
                written = first_beat + passed.first_row + i + write_delay
                fetch = max(written + 1, fetch + 1)
                cycles.extend([fetch + drain_delay(config)] * cols_in_tile[tj])
        out_free = cycles[-1] + 1
    elif emit:
        # A pass's rows leave the array on consecutive cycles and passes at least ``rows``
        # cycles apart, so each row is fetched the cycle after its write: the last beat is the
        # last tile's last row inside M.
        last_written = last_row - (array.rows - rows_in_tile[-1]) + write_delay
        out_free = last_written + 1 + drain_delay(config) + 1
    return JobTiming(launch=launch, last_beat=last_beat, last_row=last_row, words=cycles,
                     busy_free=last_row + write_delay + 1, out_free=out_free)


def job_cycles(m, k, n, config):
    """Cycles of one emitting job on an idle engine, from the decoder taking its START header
    to its last result word, both counted (operands already loaded). The engine's input took
    the header a cycle before (two, after a run of fewer than two words, see
    :meth:`EngineClock.accepts`)."""
    return job_timing(m, k, n, config, LAUNCH_DELAY).words[-1] + 1


def output_beats(outputs):
    """Group ``(cycle, word)`` output pairs into beats: ``[(cycle, [words])]`` (the engine sends
    at most one beat a cycle)."""
    beats = []
    for cycle, word in outputs:
        if beats and beats[-1][0] == cycle:
            beats[-1][1].append(word)
        else:
            beats.append((cycle, [word]))
    return beats


# The decoder's clock ------------------------------------------------------------------------

class EngineClock:
    """When the decoder takes words, launches jobs and owes output beats.

    The timing half of :class:`EngineModel`, apart so that a host program can be timed job by
    job without its words (:func:`~.engine_perf.gemm_perf`): each method takes the next
    command's words on the cycles the decoder would; :meth:`words` and :meth:`load` return the
    cycles the engine's input took them (:meth:`accepts`).

    Parameters
    ----------
    config : EngineConfig
    """

    def __init__(self, config):
        self.config = config
        self.now = 1              # first cycle the decoder may take the next word
        self.out_free = 0         # first cycle no output beat is owed
        self.timing = None        # JobTiming of the last launch
        self.bank = None          # and the bank it reads
        self.accepted = -1        # the cycle the engine's input took the last word
        self.decoded = (-2, -1)   # the cycles the decoder took the last two words

    def accepts(self, first, count):
        """The decoder takes ``count`` words on the cycles from ``first`` on: return the cycles
        the engine's input took them (an iterator).

        The input's register slice takes a word on the cycle after the word before it and
        after the decoder took the word two before it. From the third word of a run on, that
        is the cycle before the decoder's.
        """
        early = []
        for decoded in self.decoded[:count]:
            self.accepted = max(self.accepted + 1, decoded + 1)
            early.append(self.accepted)
        if count >= 2:
            self.decoded = (first + count - 2, first + count - 1)
        elif count == 1:
            self.decoded = (self.decoded[1], first)
        late = range(first + 1, first + count - 1)
        if late:
            self.accepted = late[-1]
        return itertools.chain(early, late)

    def words(self, count):
        """Take ``count`` words back to back (a header, arguments); return the cycles the
        engine's input took them."""
        first = self.now
        self.now += count
        return self.accepts(first, count)

    def refuse(self):
        """A shape refused: checked on the cycle after its last argument."""
        self.now += 1

    def bank_free(self, bank):
        """First cycle the loader may take a word into ``bank``: the feeder has left it, and
        the loader's registered copy of the feeder's busy flag says so."""
        if self.timing is None or self.bank != bank:
            return 0
        return self.timing.last_beat + 1 + BANK_WAIT_LAG

    def busy(self, cycle):
        """The engine's busy flag (array work in flight) on ``cycle``."""
        return self.timing is not None and self.timing.launch + 1 <= cycle < self.timing.busy_free

    def _free(self):
        """First cycle a waiting START or READ is taken (no array work, no beat owed)."""
        busy_free = 0 if self.timing is None else self.timing.busy_free
        return max(busy_free, self.out_free) + WAIT_LAG

    def load(self, bank, count):
        """A LOAD's ``count`` data words, after its arguments: return the cycles the engine's
        input took them.

        The loader takes the first word a cycle after the shape check at the earliest.
        """
        first = max(self.now + 1, self.bank_free(bank))
        self.now = first + count
        return self.accepts(first, count)

    def start(self, m, k, n, bank, *, emit, words=True):
        """Launch a job after its START's arguments; return its :class:`JobTiming`."""
        launch = max(self.now, self._free())
        self.timing = job_timing(m, k, n, self.config, launch, emit=emit, words=words)
        self.bank = bank
        if emit:
            self.out_free = self.timing.out_free
        self.now = launch + 1
        return self.timing

    def read(self, m, n):
        """A READ of the last job's M x N results: return the cycle of each result beat.

        The drain takes the job's rows in the order the writer wrote them, one a cycle: a row
        inside M leaves as a beat, a padding row of a tile (past M) takes its cycle and sends
        nothing (the last tile's padding rows are not taken).
        """
        array = self.config.array
        start = max(self.now, self._free())
        first = start + read_delay(self.config)
        rows_in_tile = tile_extents(m, array.rows)
        cycles, taken = [], 0
        for ti, real in enumerate(rows_in_tile):
            for _ in tile_extents(n, array.cols):
                cycles.extend(range(first + taken, first + taken + real))
                taken += array.rows
        self.out_free = cycles[-1] + 1
        self.now = start + 1
        return cycles

    def status(self):
        """A STATUS: return the cycle its word is chosen (it leaves on the next)."""
        at = max(self.now, self.out_free + WAIT_LAG)
        self.out_free = at + 2
        self.now = at + 1
        return at


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
        The cycle the decoder took the header of every launched job's START.
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
        self.clock = EngineClock(config)

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

    # Effects -------------------------------------------------------------------------------

    def _load(self, opcode, bank, dims, data_words):
        """Write the operands of a LOAD's data words into the bank, as the loader does.

        The words come beat by beat: for each block of ``rows`` rows of A (``cols`` columns of
        B), for each K step, the block's operands of that step, lane 0 first, packed low first
        into ``a_words_per_beat`` (``b_words_per_beat``) words; lanes past M (N) are padding.
        """
        config, array = self.config, self.config.array
        if opcode == Opcode.LOAD_A:
            m, k = dims
            width, per_word, group = array.a_width, config.a_per_word, config.a_words_per_beat
            lanes, mem, base = array.rows, self.a_mem, bank * config.a_bank_words
        else:
            k, n = dims
            width, per_word, group = array.b_width, config.b_per_word, config.b_words_per_beat
            lanes, mem, base = array.cols, self.b_mem, bank * config.b_bank_words
        # A weight-stationary engine's A comes K-block-major: a block of ``rows`` columns of
        # K, a beat for each row of A (``load_a_words``).
        steps, stride = k, config.k_depth
        if opcode == Opcode.LOAD_A and array.weight_stationary:
            steps, stride = m, config.a_block_words
        for index, word in enumerate(data_words):
            beat, part = divmod(index, group)
            block, kk = divmod(beat, steps)
            for slot in range(per_word):
                lane = part * per_word + slot
                if lane < lanes:
                    mem[base + block * stride + kk, lane] = self._operand(word, slot, width)

    def _compute(self, m, k, n, bank, accumulate_flag):
        """Run the job's passes on the buffers: every padded tile, as the array does."""
        config, array = self.config, self.config.array
        if array.weight_stationary:
            from .ws_engine_model import ws_compute
            return ws_compute(self, m, k, n, bank, accumulate_flag)
        rows, cols, depth = array.rows, array.cols, config.k_depth
        tiles_m, tiles_n = math.ceil(m / rows), math.ceil(n / cols)
        a_words = self.a_mem[bank * config.a_bank_words:][:tiles_m * depth]
        b_words = self.b_mem[bank * config.b_bank_words:][:tiles_n * depth]
        # A[ti*R + i, kk] is lane i of word ti*depth + kk (likewise B, by columns).
        a = a_words.reshape(tiles_m, depth, rows)[:, :k, :].transpose(0, 2, 1).reshape(-1, k)
        b = b_words.reshape(tiles_n, depth, cols)[:, :k, :].transpose(1, 0, 2).reshape(k, -1)
        # The result rows of tile (ti, tj) are ``(ti * tiles_n + tj) * rows`` on; an
        # accumulating job continues from them.
        tiles = self.c_mem[:tiles_m * tiles_n * rows].reshape(tiles_m, tiles_n, rows, cols)
        start = tiles.transpose(0, 2, 1, 3).reshape(tiles_m * rows, tiles_n * cols)
        product = matmul(a, b, array, start=start if accumulate_flag else None).astype(object)
        self.c_mem[:tiles_m * tiles_n * rows] = product.reshape(
            tiles_m, rows, tiles_n, cols).transpose(0, 2, 1, 3).reshape(-1, cols)

    def _result_beats(self, m, n):
        """The output beats of an M x N result in drain order, from the result buffer: a list
        of rows, each the words of its columns inside N."""
        array = self.config.array
        mask = (1 << self.config.word_width) - 1
        tiles_n = math.ceil(n / array.cols)
        beats = []
        for ti, rows_here in enumerate(tile_extents(m, array.rows)):
            for tj, cols_here in enumerate(tile_extents(n, array.cols)):
                base = (ti * tiles_n + tj) * array.rows
                for i in range(rows_here):
                    beats.append([int(v) & mask for v in self.c_mem[base + i, :cols_here]])
        return beats

    def _result_words(self, m, n):
        """The words of an M x N result in drain order."""
        return [word for beat in self._result_beats(m, n) for word in beat]

    # The decoder ---------------------------------------------------------------------------

    def run(self, words, *, values=True):
        """Feed ``words`` (ints) to the engine back to back; return an :class:`EngineTrace`.

        With ``values=False`` only the timing is followed: operands are not stored, nothing is
        computed and result words are zero (the cycles are the same: no value changes them).
        """
        self.reset()
        config, clock = self.config, self.clock
        words = [int(w) for w in words]
        trace = EngineTrace()
        index = 0
        while index < len(words):
            decoded = clock.now
            (head,) = clock.words(1)
            trace.accepted.append(head)
            parsed = self._header(words[index])
            index += 1
            if parsed is None:
                continue
            opcode, flags = parsed
            bank = flags & 1

            if opcode in ARGUMENTS:
                names = ARGUMENTS[opcode]
                args = words[index:index + len(names)]
                trace.accepted.extend(clock.words(len(args)))
                index += len(args)
                if len(args) < len(names):
                    break                       # cut short: the decoder waits for more
                if any(value == 0 for value in args):
                    self._refuse(ErrorCode.ZERO_SHAPE)
                    clock.refuse()
                    continue
                if any(value > limit for value, limit in zip(args, self._limits(opcode))):
                    self._refuse(ErrorCode.TOO_BIG)
                    clock.refuse()
                    continue
                dims = dict(zip(names, args))

                if opcode == Opcode.START:
                    m, k, n = dims["m"], dims["k"], dims["n"]
                    accumulate_flag, emit = bool(flags & 2), bool(flags & 4)
                    if values:
                        self._compute(m, k, n, bank, accumulate_flag)
                    self.job = (m, k, n, bank, accumulate_flag, emit)
                    timing = clock.start(m, k, n, bank, emit=emit)
                    self.jobs_started += 1
                    trace.jobs.append(timing)
                    trace.starts.append(decoded)
                    if emit:
                        trace.outputs.extend(zip(timing.words, self._result_words(m, n)))
                else:
                    operand = "a" if opcode == Opcode.LOAD_A else "b"
                    count = config.load_words(operand, *args)
                    data = words[index:index + count]
                    index += len(data)
                    trace.accepted.extend(itertools.islice(clock.load(bank, count), len(data)))
                    if values:
                        self._load(opcode, bank, args, data)
                    if len(data) < count:
                        break                   # cut short

            elif opcode == Opcode.READ:
                if self.job is None:
                    self._refuse(ErrorCode.NO_RESULT)
                    continue
                beats = self._result_beats(self.job[0], self.job[2])
                cycles = clock.read(self.job[0], self.job[2])
                for cycle, words_of_row in zip(cycles, beats, strict=True):
                    trace.outputs.extend((cycle, word) for word in words_of_row)

            elif opcode == Opcode.STATUS:
                at = clock.status()
                word = status_word(clock.busy(at), self.error, self.code, self.jobs_started)
                trace.outputs.append((at + 1, word))

            elif opcode == Opcode.CLEAR:
                self.error = False
                self.code = ErrorCode.NONE
        return trace
