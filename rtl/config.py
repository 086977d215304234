"""The one description of a systolic array design that every layer reads.

This module deliberately imports nothing but the standard library, so that the numpy reference
model, the cost model and the host tools can use it without pulling in Amaranth.
"""

import dataclasses
from dataclasses import dataclass, fields, asdict

__all__ = [
    "ConfigError", "ArrayConfig", "check_int", "check_known_fields", "overlay",
    "DATAFLOWS", "OVERFLOW_MODES", "WIDTH_RANGE", "ACC_WIDTH_MAX", "DIM_MAX", "MAX_K_MAX",
    "PIPELINE_MAX", "ENGINE_DATAFLOWS", "check_engine_dataflow",
]


#: Dataflows the array gateware implements.
DATAFLOWS = ("output-stationary", "weight-stationary")
#: Dataflows the GEMM engine around the array implements (the weight-stationary engine is
#: still to come: its feeder, writer and model follow the output-stationary pass order).
ENGINE_DATAFLOWS = ("output-stationary", "weight-stationary")
#: What an accumulator does when a sum leaves its range.
OVERFLOW_MODES = ("wrap", "saturate")
#: Allowed operand widths, in bits (inclusive).
WIDTH_RANGE = (2, 32)
#: Widest accumulator we generate; the product of two 32-bit operands and a deep K fit.
ACC_WIDTH_MAX = 128
#: Largest array side we accept; beyond this nothing we target could place it.
DIM_MAX = 256
#: Largest K the derived accumulator width may be asked to cover.
MAX_K_MAX = 1 << 24
#: Most extra register stages ``ArrayConfig.pipeline`` may ask for.
PIPELINE_MAX = 1


class ConfigError(ValueError):
    """A design parameter is out of its allowed range.

    The message names the parameter, the value given and what is allowed.
    """

    def __init__(self, parameter, value, allowed):
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={value!r} is invalid: {allowed}")


def check_int(name, value, lo, hi):
    """Raise :class:`ConfigError` unless ``value`` is an integer (not a bool) in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(name, value, f"must be an integer from {lo} to {hi}")
    if not lo <= value <= hi:
        raise ConfigError(name, value, f"must be from {lo} to {hi}")


def check_known_fields(cls, data):
    """Raise :class:`ConfigError` for a key of ``data`` that is not a field of dataclass ``cls``."""
    names = {f.name for f in fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(key, data[key], f"is not a parameter; known: {', '.join(sorted(names))}")


def overlay(config, **given):
    """Return ``config`` with the parameters in ``given`` replaced (``dataclasses.replace``).

    The one way a design is changed: command-line options (``None`` when not given, and then
    dropped here) over a base design, a board's default or a class default. What ``config``
    derived itself (its :attr:`~ArrayConfig.derived` parameters, e.g. the accumulator width
    from the operand widths and ``max_k``) is derived again from the new values unless given.
    """
    given = {name: value for name, value in given.items() if value is not None}
    again = {name: None for name in config.derived if name not in given}
    return dataclasses.replace(config, **again, **given)


def check_engine_dataflow(array):
    """Raise :class:`ConfigError` unless the GEMM engine implements ``array.dataflow``.

    :class:`~.engine.config.EngineConfig` calls it, so every path that builds or models the
    engine (``systolic build``, ``run``, the sweep, ``gemm_perf``) refuses alike; the bare
    array takes every dataflow of :data:`DATAFLOWS`.
    """
    if array.dataflow not in ENGINE_DATAFLOWS:
        raise ConfigError("dataflow", array.dataflow,
                          f"the GEMM engine is {', '.join(ENGINE_DATAFLOWS)} only for now; the "
                          f"bare array takes it (systolic simulate --target array, generate)")


def mark_derived(config, names):
    """Record on a frozen config which of its parameters it derived (see :func:`overlay`)."""
    object.__setattr__(config, "_derived", frozenset(names))


def operand_range(width, signed):
    """Return the inclusive ``(min, max)`` of a ``width``-bit integer."""
    if signed:
        return -(1 << (width - 1)), (1 << (width - 1)) - 1
    return 0, (1 << width) - 1


def bits_for_range(lo, hi, signed):
    """Return the fewest bits whose two's complement (or unsigned) range holds ``[lo, hi]``."""
    if signed:
        return max((lo).bit_length() if lo >= 0 else (~lo).bit_length(), hi.bit_length()) + 1
    return max(1, hi.bit_length())


@dataclass(frozen=True)
class ArrayConfig:
    """Parameters of a systolic multiply-accumulate array.

    The object is immutable and validated on construction: any value out of range raises
    :class:`ConfigError` naming the parameter.

    Parameters
    ----------
    rows, cols : int
        Array shape R x C: R rows of A and C columns of B are processed at once, producing an
        R x C tile of the result. From 1 to :data:`DIM_MAX`.
    a_width, b_width : int
        Operand widths in bits, from 2 to 32. ``a_width`` is for the A (left) operand,
        ``b_width`` for the B (top) operand.
    signed : bool
        Whether operands (and so products and accumulators) are two's complement.
    max_k : int
        Deepest dot product the derived accumulator width must hold without overflow.
    acc_width : int or None
        Accumulator width in bits. ``None`` derives the narrowest width that holds any K-deep
        dot product of extreme operand values for ``K <= max_k``. It may not be narrower than
        one product (:attr:`product_width`).
    overflow : str
        ``"wrap"`` (two's complement wrap-around at ``acc_width`` bits) or ``"saturate"``
        (each accumulation step clamps to the accumulator range).
    dataflow : str
        ``"output-stationary"``: each processing element owns one result and operands flow
        through the array (:class:`~.array.SystolicArray`). ``"weight-stationary"``: each
        processing element holds one weight of an R x C tile of B (R values of K by C of N),
        rows of A stream through and partial sums flow down the columns
        (:class:`~.ws_array.WSSystolicArray`). The GEMM engine is output-stationary only
        (:func:`check_engine_dataflow`).
    pipeline : int
        Extra register stages for clock speed, from 0 to :data:`PIPELINE_MAX`. ``1`` puts a
        fabric register between each PE's multiplier and its accumulator (a hard multiplier's
        output then only has to reach a register, not an adder), splits the result mux into
        two registered levels, each gathering from fewer rows, and registers the beat at the
        array's input (so the handshake with the feeder ends at one register rather than in
        the first PEs); each adds a cycle to :attr:`result_latency`. On an ECP5 it also gives
        every PE control flip-flops of its own, which synthesis would otherwise share across
        the die. ``0`` is the shortest latency and the smallest array.
    """

    rows: int = 4
    cols: int = 4
    a_width: int = 8
    b_width: int = 8
    signed: bool = True
    max_k: int = 4096
    acc_width: int | None = None
    overflow: str = "wrap"
    dataflow: str = "output-stationary"
    pipeline: int = 0

    def __post_init__(self):
        check_int("rows", self.rows, 1, DIM_MAX)
        check_int("cols", self.cols, 1, DIM_MAX)
        check_int("a_width", self.a_width, *WIDTH_RANGE)
        check_int("b_width", self.b_width, *WIDTH_RANGE)
        if not isinstance(self.signed, bool):
            raise ConfigError("signed", self.signed, "must be True or False")
        check_int("max_k", self.max_k, 1, MAX_K_MAX)
        if self.overflow not in OVERFLOW_MODES:
            raise ConfigError("overflow", self.overflow, f"must be one of {', '.join(OVERFLOW_MODES)}")
        if self.dataflow not in DATAFLOWS:
            raise ConfigError("dataflow", self.dataflow, f"must be one of {', '.join(DATAFLOWS)}")
        check_int("pipeline", self.pipeline, 0, PIPELINE_MAX)
        mark_derived(self, ["acc_width"] if self.acc_width is None else [])
        if self.acc_width is None:
            derived = self.required_acc_width(self.max_k)
            if derived > ACC_WIDTH_MAX:
                raise ConfigError("max_k", self.max_k,
                                  f"needs a {derived}-bit accumulator, more than {ACC_WIDTH_MAX}; "
                                  f"lower max_k or set acc_width with overflow handling")
            object.__setattr__(self, "acc_width", derived)
        else:
            check_int("acc_width", self.acc_width, self.product_width, ACC_WIDTH_MAX)

    @property
    def derived(self):
        """Names of the parameters given as ``None`` and derived (``{"acc_width"}`` or none)."""
        return self._derived

    # Operands and products -------------------------------------------------------------------

    @property
    def a_range(self):
        """Inclusive ``(min, max)`` of an A operand."""
        return operand_range(self.a_width, self.signed)

    @property
    def b_range(self):
        """Inclusive ``(min, max)`` of a B operand."""
        return operand_range(self.b_width, self.signed)

    @property
    def product_range(self):
        """Inclusive ``(min, max)`` of one product ``a * b``."""
        corners = [a * b for a in self.a_range for b in self.b_range]
        return min(corners), max(corners)

    @property
    def product_width(self):
        """Bits of one full-precision product."""
        return bits_for_range(*self.product_range, self.signed)

    def required_acc_width(self, k):
        """Return the accumulator width that holds any ``k``-deep dot product exactly."""
        lo, hi = self.product_range
        return bits_for_range(lo * k, hi * k, self.signed)

    @property
    def acc_range(self):
        """Inclusive ``(min, max)`` of the accumulator."""
        return operand_range(self.acc_width, self.signed)

    @property
    def exact_k(self):
        """Deepest K for which no overflow can occur with this accumulator width."""
        lo, hi = self.product_range
        acc_lo, acc_hi = self.acc_range
        limits = []
        if hi > 0:
            limits.append(acc_hi // hi)
        if lo < 0:
            limits.append(acc_lo // lo)
        return min(limits) if limits else MAX_K_MAX

    # Array shape and timing ------------------------------------------------------------------

    @property
    def macs(self):
        """Multiply-accumulate units in the array (``rows * cols``)."""
        return self.rows * self.cols

    @property
    def weight_stationary(self):
        """Whether :attr:`dataflow` is ``"weight-stationary"``."""
        return self.dataflow == "weight-stationary"

    @property
    def min_pass_spacing(self):
        """Fewest cycles between two consecutive passes; passes at least this long never wait.

        Output-stationary: between the last beats of two passes. Results leave the array one
        row per cycle (``rows`` cycles a pass), and a PE's result register may only be
        overwritten once its row has left (``cols`` cycles after the first PE of a row
        finishes): ``max(rows, cols)``. A shorter pass is held at its last beat.

        Weight-stationary: between the first row beats of two passes (two weight tiles). The
        next tile's ``rows`` weight rows shift into the shadow registers one a beat, the first
        of them :attr:`weight_load_delay` cycles after the pass's first row beat (when the
        last PE has taken the current tile), the last one at least a cycle before the next
        pass's first row beat: ``weight_load_delay + rows = 2 * rows + cols - 2``. A pass of
        fewer rows is followed by beats that only load weights (or do nothing).
        """
        if self.weight_stationary:
            return self.weight_load_delay + self.rows
        return max(self.rows, self.cols)

    @property
    def weight_load_delay(self):
        """Weight-stationary: cycles from a pass's first row beat to the first beat that may
        shift the next tile's weights in (``rows + cols - 2``).

        The shadow registers of the whole array shift together, and PE ``(i, j)`` takes its
        shadow weight ``i + j`` cycles after the pass's first row beat; the last PE,
        ``(rows - 1, cols - 1)``, takes it ``rows + cols - 2`` cycles after, and a shift on
        that same cycle only shows on the next.
        """
        return self.rows + self.cols - 2

    @property
    def result_latency(self):
        """Cycles from the beat that completes a result row's inputs to that row's output beat.

        Output-stationary: from the last input beat of a pass to the first result row of that
        pass; row ``i`` of the pass appears ``i`` cycles later. The figure is the sum of the
        pipeline: the operand skew and the horizontal walk (``cols - 1`` register stages to
        reach the last column), the PE input register, the product register, the accumulator,
        the result row register and the output register; with :attr:`pipeline` set, also the
        input register, the PE's second product register and the result mux's first level.

        Weight-stationary: from a row beat to its row of partial sums: the row skew and the
        horizontal walk (``rows - 1 + cols - 1``), the PE's operand and product registers,
        its partial-sum register, then the de-skew of the columns to the last column's time
        (no register of its own); with :attr:`pipeline` set, also the input register and the
        PE's second product register. Every row beat gives a result row, in beat order.
        """
        if self.weight_stationary:
            return self.rows + self.cols + 1 + self.input_stages + self.product_stages
        return self.cols + 3 + self.input_stages + self.product_stages + self.mux_stages

    @property
    def accumulate_delay(self):
        """Cycles from a beat's acceptance to PE (0, 0)'s accumulation of its product: the
        input register (with :attr:`pipeline`), the PE's operand and product registers and the
        extra product stages. PE ``(i, j)`` accumulates it ``i + j`` cycles later."""
        return self.input_stages + 2 + self.product_stages

    @property
    def input_stages(self):
        """Registers between the array's input handshake and its operand skew (0 or 1)."""
        return self.pipeline

    @property
    def product_stages(self):
        """Extra registers between a PE's multiplier and its accumulator (0 or 1)."""
        return self.pipeline

    @property
    def mux_stages(self):
        """Registered levels of the result mux before its output register (0 or 1)."""
        return self.pipeline

    # Conversion ------------------------------------------------------------------------------

    def to_dict(self):
        """Return the parameters as a JSON-serializable dict (round-trips through ``from_dict``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data):
        """Build a config from a dict; unknown keys raise :class:`ConfigError`."""
        check_known_fields(cls, data)
        return cls(**data)

    def describe(self):
        """Return a short human-readable summary, e.g. ``4x4 int8 signed, acc 28 b, wrap``."""
        sign = "signed" if self.signed else "unsigned"
        if self.a_width == self.b_width:
            widths = f"{self.a_width}-bit"
        else:
            widths = f"{self.a_width}x{self.b_width}-bit"
        pipeline = f", pipeline {self.pipeline}" if self.pipeline else ""
        return (f"{self.rows}x{self.cols} {widths} {sign}, acc {self.acc_width} b, "
                f"{self.overflow}, {self.dataflow}{pipeline}")
