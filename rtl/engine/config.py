"""Parameters of the GEMM engine: the array plus the sizes of its on-chip buffers.

Standard library only, like :mod:`~systolic.rtl.config`: the numpy models, the host tiler and the cost
reports read it without Amaranth.
"""

import math
from dataclasses import dataclass, field, fields

from ..config import (ArrayConfig, ConfigError, check_engine_dataflow, check_int,
                      check_known_fields, mark_derived)

__all__ = ["EngineConfig", "K_DEPTH_MAX", "BLOCKS_MAX", "RESULT_ROWS_MAX", "WORD_WIDTH_RANGE",
           "BUFFER_RAMS", "BUFFER_LATENCIES", "default_blocks"]

#: Deepest operand buffer (K steps per bank) we accept.
K_DEPTH_MAX = 1 << 16
#: Most row (column) blocks of A (B) a bank may hold.
BLOCKS_MAX = 4096
#: Most result-buffer rows; beyond this no device we target has the block RAM.
RESULT_ROWS_MAX = 1 << 20
#: Allowed stream word widths, in bits (inclusive).
WORD_WIDTH_RANGE = (32, 256)
#: Cycles from a buffer read's address to its data: 1 (the RAM's read register), or 2 with
#: the RAM's output register after it (what an ECP5 DP16KD needs for a short clock-to-out).
BUFFER_LATENCIES = (1, 2)

#: Kinds of RAM the buffers may be built from (the Yosys ``ram_style`` they ask for): ``block``
#: RAM holds large buffers; ``distributed`` RAM (LUTs) holds small ones and reads fast: an ECP5
#: DP16KD read without its output register, which Yosys does not use, is too slow at 150 MHz.
BUFFER_RAMS = ("block", "distributed")


def default_blocks(array):
    """``(m_blocks, n_blocks)`` a bank holds unless told otherwise.

    Jobs at least 128 rows and columns big, and at least ``max(rows, cols)`` blocks each way.
    The operand stream brings one word of operands a cycle while the array takes ``rows``
    operands of A and ``cols`` of B from the buffers a cycle. An A operand is read once for
    each of a job's column blocks and a B operand once for each of its row blocks, so with at
    least ``max(rows, cols)`` blocks each way every loaded operand is used that many times or
    more, and a job's loads (four int8 operands a word) take at most half of its computation's
    cycles, behind the other bank's job. (For arrays too big for that, as many blocks as keep the
    result buffer within :data:`RESULT_ROWS_MAX` rows.)
    """
    side = min(max(array.rows, array.cols), math.isqrt(RESULT_ROWS_MAX // array.rows))
    return max(math.ceil(128 / array.rows), side), max(math.ceil(128 / array.cols), side)


@dataclass(frozen=True)
class EngineConfig:
    """Parameters of a :class:`~.engine.GemmEngine`: the array and its buffer sizes.

    Immutable and validated on construction; a value out of range raises
    :class:`~systolic.rtl.config.ConfigError` naming the parameter. :meth:`ecp5` is a preset for the larger
    ECP5 parts; the boards cut the buffers to their block RAM
    (:func:`~systolic.boards.block_ram_estimate.block_rams`).

    A *job* is one ``START``: ``A`` (M x K) times ``B`` (K x N) with both operands in one bank.
    It fits when ``M <= max_m``, ``K <= max_k`` and ``N <= max_n``; bigger GEMMs are split by
    the host (:mod:`systolic.sim.engine_tiling`), over K by accumulating jobs in the result
    buffer.

    Parameters
    ----------
    array : ArrayConfig
        The systolic array.
    k_depth : int
        Depth of the operand buffers in K steps: the largest K of one job (:attr:`max_k`).
    m_blocks : int or None
        Blocks of ``array.rows`` rows of A one bank holds: ``max_m = m_blocks * rows``.
        ``None`` takes :func:`default_blocks`'s. (A weight-stationary engine holds A as
        ``ceil(k_depth / rows)`` blocks of ``rows`` columns of K, each ``max_m`` words: the
        same limits, see :attr:`a_block_words`.)
    n_blocks : int or None
        Blocks of ``array.cols`` columns of B one bank holds: ``max_n = n_blocks * cols``.
        ``None`` takes :func:`default_blocks`'s.
    word_width : int or None
        Width of the stream words in bits. ``None`` derives the smallest multiple of 8 that is
        at least 32 and holds an accumulator and an operand; an explicit value must hold them
        and be a whole number of bytes (the wire protocol carries words as bytes and tells
        the host only their byte count).
    buffer_ram : str
        What the buffers (the engine's and the host bridge's) are built from, one of
        :data:`BUFFER_RAMS`: ``"block"`` RAM or ``"distributed"`` RAM (LUTs; keep the buffers
        small). Distributed RAM takes its addresses and writes through registers (to and
        from anywhere on a big die), so a job's first beat reaches the array a cycle later
        (:attr:`read_address_stages`) and a result row is written a cycle later
        (:attr:`result_write_stages`); the ports and the rest of the timing are the same.
    buffer_latency : int
        Cycles from a buffer read's address to its data, one of :data:`BUFFER_LATENCIES`: 1,
        or 2 when every buffer read goes through an output register after the RAM's read
        register (an ECP5 block RAM's ``OUTREG``, which cuts its clock-to-out). The second
        cycle delays a job's first beat, each result row's write and each result row's
        departure by one cycle.

    Notes
    -----
    Buffers (two operand banks for double buffering, one result buffer):

    * A: ``2 * m_blocks * k_depth`` words of ``rows`` operands (one beat of A each);
      weight-stationary: ``2 * ceil(k_depth / rows) * max_m`` words;
    * B: ``2 * n_blocks * k_depth`` words of ``cols`` operands;
    * result: ``m_blocks * n_blocks * rows`` rows of ``cols`` accumulators, with two read
      ports (K-chunk accumulation and the result stream), which block RAM provides by
      duplication.
    """

    array: ArrayConfig = field(default_factory=ArrayConfig)
    k_depth: int = 128
    m_blocks: int | None = None
    n_blocks: int | None = None
    word_width: int | None = None
    buffer_ram: str = "block"
    buffer_latency: int = 1

    def __post_init__(self):
        if not isinstance(self.array, ArrayConfig):
            raise ConfigError("array", self.array, "must be an ArrayConfig")
        check_engine_dataflow(self.array)
        check_int("k_depth", self.k_depth, 1, K_DEPTH_MAX)
        mark_derived(self, [name for name in ("m_blocks", "n_blocks", "word_width")
                            if getattr(self, name) is None])
        for name, blocks in zip(("m_blocks", "n_blocks"), default_blocks(self.array)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, blocks)
            check_int(name, getattr(self, name), 1, BLOCKS_MAX)
        if self.result_rows > RESULT_ROWS_MAX:
            raise ConfigError("n_blocks", self.n_blocks,
                              f"m_blocks * n_blocks * rows = {self.result_rows} result rows, more "
                              f"than {RESULT_ROWS_MAX}; lower m_blocks or n_blocks")
        needed = max(self.array.acc_width, self.array.a_width, self.array.b_width)
        if self.word_width is None:
            object.__setattr__(self, "word_width", max(WORD_WIDTH_RANGE[0], 8 * math.ceil(needed / 8)))
        else:
            check_int("word_width", self.word_width, max(needed, WORD_WIDTH_RANGE[0]),
                       WORD_WIDTH_RANGE[1])
            if self.word_width % 8:
                raise ConfigError("word_width", self.word_width, "must be a multiple of 8")
        if self.buffer_ram not in BUFFER_RAMS:
            raise ConfigError("buffer_ram", self.buffer_ram, f"must be one of {', '.join(BUFFER_RAMS)}")
        if self.buffer_latency not in BUFFER_LATENCIES or isinstance(self.buffer_latency, bool):
            raise ConfigError("buffer_latency", self.buffer_latency,
                              f"must be one of {', '.join(map(str, BUFFER_LATENCIES))}")

    @property
    def derived(self):
        """Names of the parameters given as ``None`` and derived from the array
        (``m_blocks``, ``n_blocks``, ``word_width``): :func:`~systolic.rtl.config.overlay`
        derives them again for another array."""
        return self._derived

    @classmethod
    def ecp5(cls, array=None, **overrides):
        """Preset for an ECP5 (sized for the LFE5U-85F): jobs up to 128 x 256 x 128.

        With an 8 x 8 int8 array this takes about 110 of the 85F's 208 EBR
        (see :func:`~systolic.boards.block_ram_estimate.block_rams`).
        """
        array = ArrayConfig() if array is None else array
        params = dict(array=array, k_depth=256, m_blocks=math.ceil(128 / array.rows),
                      n_blocks=math.ceil(128 / array.cols))
        params.update(overrides)
        return cls(**params)

    # Job limits ------------------------------------------------------------------------------

    @property
    def max_m(self):
        """Most rows of A (and of the result) one job takes."""
        return self.m_blocks * self.array.rows

    @property
    def max_n(self):
        """Most columns of B (and of the result) one job takes."""
        return self.n_blocks * self.array.cols

    @property
    def max_k(self):
        """Deepest K one job takes (deeper GEMMs accumulate several jobs)."""
        return self.k_depth

    def fits(self, m, k, n):
        """Whether an ``m x k x n`` job fits the buffers (all dimensions >= 1)."""
        return 1 <= m <= self.max_m and 1 <= k <= self.max_k and 1 <= n <= self.max_n

    # Buffers -------------------------------------------------------------------------------

    @property
    def a_block_words(self):
        """Words from one block of an A bank to the next.

        Output-stationary: a block is ``rows`` rows of A, a word a K step (``k_depth``).
        Weight-stationary: a block is ``rows`` columns of K, a word a row of A (``max_m``),
        so that a beat of the array (``A[m, k0 .. k0 + rows - 1]``) is one read.
        """
        return self.max_m if self.array.weight_stationary else self.k_depth

    @property
    def a_blocks(self):
        """Blocks in one A bank: of M (output-stationary) or of K (weight-stationary)."""
        if self.array.weight_stationary:
            return math.ceil(self.k_depth / self.array.rows)
        return self.m_blocks

    @property
    def a_bank_words(self):
        """Words (beats of ``rows`` operands) in one A bank."""
        return self.a_blocks * self.a_block_words

    @property
    def b_bank_words(self):
        """Words (beats of ``cols`` operands) in one B bank."""
        return self.n_blocks * self.k_depth

    @property
    def result_rows(self):
        """Rows of ``cols`` accumulators in the result buffer."""
        return self.m_blocks * self.n_blocks * self.array.rows

    @property
    def a_per_word(self):
        """A operands packed in one stream word."""
        return self.word_width // self.array.a_width

    @property
    def b_per_word(self):
        """B operands packed in one stream word."""
        return self.word_width // self.array.b_width

    @property
    def a_words_per_beat(self):
        """Stream words that carry one beat of A (the ``rows`` operands of one K step)."""
        return math.ceil(self.array.rows / self.a_per_word)

    @property
    def b_words_per_beat(self):
        """Stream words that carry one beat of B (the ``cols`` operands of one K step)."""
        return math.ceil(self.array.cols / self.b_per_word)

    def load_words(self, operand, rows, cols):
        """Data words of a LOAD of ``operand`` (``"a"``: ``rows`` x ``cols`` = M x K; ``"b"``:
        K x N): a beat for each K step of each block (for A on a weight-stationary engine, for
        each row of A of each block of K), each beat in whole words."""
        if operand == "a" and self.array.weight_stationary:
            return math.ceil(cols / self.array.rows) * rows * self.a_words_per_beat
        if operand == "a":
            return math.ceil(rows / self.array.rows) * cols * self.a_words_per_beat
        return math.ceil(cols / self.array.cols) * rows * self.b_words_per_beat

    @property
    def read_address_stages(self):
        """Registers between the feeder's read addresses and the operand buffers (0 or 1).

        Distributed buffers are a memory a lane, spread over the die with the array; each
        reads at its own copy of the address, a register a cycle behind the feeder's.
        """
        return int(self.buffer_ram == "distributed")

    @property
    def old_row_stages(self):
        """Registers between the result buffer's read data and the writer's adder (0 or 1).

        Buffers read through an output register (built for clock speed) take the old row into
        a register beside the adder first: the result buffer's blocks sit all over a big die.
        """
        return int(self.buffer_latency == 2)

    @property
    def drain_address_stages(self):
        """Registers between the drain's read address and the result buffer (0 or 1).

        Buffers read through an output register (built for clock speed) take the drain's
        address into a register beside each block first: the blocks sit all over a big die,
        and one flip-flop addressing them all would be one net across it.
        """
        return int(self.buffer_latency == 2)

    @property
    def drain_read_stages(self):
        """Cycles from the drain's read address to the row's data: the registers of the
        address beside the buffer (``drain_address_stages``), then the buffer's read
        (``buffer_latency``)."""
        return self.drain_address_stages + self.buffer_latency

    @property
    def drain_queue_depth(self):
        """Result beats the drain's output queue holds (0: the drain has none).

        Buffers read through an output register (built for clock speed) read result rows
        freely, as far as a queue at the drain's output has room: the consumer's ``ready``
        then reaches only that queue, not the clock enables of the result buffer's blocks
        all over a big die. The room is counted in flip-flops, which learn of a beat taken
        on the cycle after: a row counts from the cycle after its read to the cycle after its
        beat is taken, ``drain_read_stages + 1`` cycles for a consumer that takes every beat
        as it appears, so one beat more than that is what such a consumer needs never to
        stall the read, rounded up to a power of two. Without a queue the read stalls with
        the output.
        """
        if self.buffer_latency != 2:
            return 0
        # A power of two: the queue's LUT RAM has 16 entries whatever its depth, and Yosys
        # merged two data bits of a 5-deep queue into one net (a 16x12 engine).
        return 1 << math.ceil(math.log2(self.drain_read_stages + 2))

    @property
    def result_write_delay(self):
        """Cycles from a result row leaving the array to its write into the result buffer: the
        old row's read, :attr:`old_row_stages` and :attr:`result_write_stages`."""
        return self.buffer_latency + self.old_row_stages + self.result_write_stages

    @property
    def result_write_stages(self):
        """Registers between the result writer's sum and the result buffer (0 or 1).

        Distributed buffers, and buffers read through an output register (built for clock
        speed), take the sum into a register first: the old row, its sum with the new one and
        the write to memories all over a big die would be one path otherwise.
        """
        return int(self.buffer_ram == "distributed" or self.buffer_latency == 2)

    @property
    def psum_turnaround(self):
        """Weight-stationary: fewest cycles from a row beat to the beat that reads back the row
        it writes (the next K tile's beat of the same row of A).

        The row's sums leave the array ``result_latency`` cycles after its beat and are written
        ``result_write_stages`` cycles later; the next beat of that row reads them from the
        result buffer ``buffer_latency`` cycles before its own acceptance, no sooner than the
        cycle after the write (a read on the write's cycle sees the old row).
        """
        return self.array.result_latency + self.result_write_stages + self.buffer_latency + 1

    def pass_spacing(self, m):
        """Weight-stationary: cycles between the first row beats of two consecutive passes of
        an ``m``-row job: at least its ``m`` rows, the array's ``min_pass_spacing`` (the next
        weight tile shifts in behind the current one) and :attr:`psum_turnaround` (the next K
        tile of the same N tile reads the rows this pass writes)."""
        return max(m, self.array.min_pass_spacing, self.psum_turnaround)

    @property
    def buffer_bits(self):
        """``{"a": bits, "b": bits, "result": bits}`` of the buffers (result counted once)."""
        array = self.array
        return {
            "a": 2 * self.a_bank_words * array.rows * array.a_width,
            "b": 2 * self.b_bank_words * array.cols * array.b_width,
            "result": self.result_rows * array.cols * array.acc_width,
        }

    @property
    def resync_words(self):
        """NOP words that bring the command decoder back to its idle state from any state.

        The longest command is a LOAD with the most data words; after this many NOPs every
        command cut short has run out (a LOAD fills the rest of its bank region with NOP words,
        so reload that bank).
        """
        return 3 + max(self.load_words("a", self.max_m, self.max_k),
                       self.load_words("b", self.max_k, self.max_n))

    # Conversion ------------------------------------------------------------------------------

    def to_dict(self):
        """Return the parameters as a JSON-serializable dict (round-trips through ``from_dict``)."""
        return {f.name: (self.array.to_dict() if f.name == "array" else getattr(self, f.name))
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data):
        """Build a config from a dict; unknown keys raise :class:`ConfigError`."""
        check_known_fields(cls, data)
        data = dict(data)
        if isinstance(data.get("array"), dict):
            data["array"] = ArrayConfig.from_dict(data["array"])
        return cls(**data)

    def describe(self):
        """Return a short summary, e.g. ``4x4 ... ; jobs up to 32x32x32, 32-bit words``.

        Buffers in anything but block RAM are named at the end (``, distributed RAM``), and
        an output register after the RAM's read (``, registered reads``).
        """
        ram = "" if self.buffer_ram == "block" else f", {self.buffer_ram} RAM"
        registered = ", registered reads" if self.buffer_latency == 2 else ""
        return (f"{self.array.describe()}; jobs up to {self.max_m}x{self.max_k}x{self.max_n} "
                f"(MxKxN), {self.word_width}-bit words{ram}{registered}")
