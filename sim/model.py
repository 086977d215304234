"""The numpy reference model: bit-exact results and exact cycle counts of the array.

The results are one model for both dataflows (:func:`matmul`); the cycle functions here take
either dataflow's config and hand a weight-stationary one to :mod:`.ws_model`.

Only numpy and the config module are imported here, never Amaranth: the model is the
independent statement of what the hardware must do, and the host tools use it without the
gateware.
"""

import math
from dataclasses import dataclass

import numpy as np


__all__ = [
    "OperandError", "check_operands", "matmul", "result_dtype", "wrap", "saturate",
    "PassSchedule", "schedule_passes", "array_cycles", "gemm_passes", "gemm_cycles",
    "ideal_cycles", "result_rows",
]


class OperandError(ValueError):
    """Operands the design cannot take: wrong rank, dtype, shape or value range."""


def check_operands(a, b, config):
    """Validate ``A`` (M x K) and ``B`` (K x N) for ``config``; return them as int64 arrays.

    Raises
    ------
    OperandError
        Naming the operand and what is wrong: not 2-D, empty, not integer, inner dimensions
        that differ, or values outside the configured operand range.
    """
    checked = []
    for name, value, (lo, hi), width in (("A", a, config.a_range, config.a_width),
                                         ("B", b, config.b_range, config.b_width)):
        value = np.asarray(value)
        if value.ndim != 2:
            raise OperandError(f"{name} must be a 2-D matrix, got {value.ndim} dimension(s)")
        if value.size == 0:
            raise OperandError(f"{name} is empty (shape {value.shape}); every dimension must be >= 1")
        if value.dtype == np.bool_ or not np.issubdtype(value.dtype, np.integer):
            raise OperandError(f"{name} must have an integer dtype, got {value.dtype}")
        vmin, vmax = int(value.min()), int(value.max())
        if vmin < lo or vmax > hi:
            sign = "signed" if config.signed else "unsigned"
            raise OperandError(f"{name} has values in [{vmin}, {vmax}], outside the {width}-bit "
                               f"{sign} operand range [{lo}, {hi}]")
        checked.append(value.astype(np.int64))
    a, b = checked
    if a.shape[1] != b.shape[0]:
        raise OperandError(f"inner dimensions differ: A is {a.shape[0]}x{a.shape[1]}, "
                           f"B is {b.shape[0]}x{b.shape[1]} (A's columns must equal B's rows)")
    return a, b


def wrap(values, width, signed):
    """Reduce exact integers to ``width``-bit two's complement (or unsigned) by wrap-around."""
    values = np.asarray(values, dtype=object)
    mask = (1 << width) - 1
    wrapped = values & mask
    if signed:
        half = 1 << (width - 1)
        wrapped = np.where(wrapped >= half, wrapped - (1 << width), wrapped)
    return wrapped


def saturate(values, lo, hi):
    """Clamp exact integers to ``[lo, hi]``."""
    return np.minimum(np.maximum(np.asarray(values, dtype=object), lo), hi)


def result_dtype(config):
    """numpy dtype that holds any accumulator value: ``int64``, or ``object`` beyond 64 bits."""
    lo, hi = config.acc_range
    return np.int64 if -(1 << 63) <= lo and hi < (1 << 63) else object


def matmul(a, b, config, *, start=None):
    """Return ``A @ B`` exactly as the array computes it.

    Each result element is a dot product accumulated in order ``k = 0 .. K-1`` in an
    accumulator of ``config.acc_width`` bits that starts at zero (or at ``start``). With
    ``overflow="wrap"`` it wraps modulo ``2**acc_width`` (so the order does not matter); with
    ``"saturate"`` every step clamps to the accumulator range, which the model follows step by
    step.

    Parameters
    ----------
    a : array_like of int, shape (M, K)
    b : array_like of int, shape (K, N)
    config : ArrayConfig
    start : array_like of int, shape (M, N), optional
        The accumulators' values before step 0, in the accumulator's range (a GEMM engine
        continues a K-chunked product from the chunks before).

    Returns
    -------
    numpy.ndarray, shape (M, N)
        ``int64`` when the accumulator fits in 64 bits, else ``object`` (Python ints).
    """
    a, b = check_operands(a, b, config)
    # Python integers keep every intermediate exact whatever the widths.
    a_obj, b_obj = a.astype(object), b.astype(object)
    first = (np.zeros((a.shape[0], b.shape[1]), dtype=object) if start is None
             else np.asarray(start, dtype=object))
    if config.overflow == "wrap":
        result = wrap(first + a_obj @ b_obj, config.acc_width, config.signed)
    else:
        lo, hi = config.acc_range
        result = first
        for k in range(a.shape[1]):
            result = saturate(result + np.outer(a_obj[:, k], b_obj[k, :]), lo, hi)
    return result.astype(result_dtype(config))


# Cycle model ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class PassSchedule:
    """When one pass's beats are accepted and its result rows appear.

    All times are cycle numbers counted from 0, the cycle the first beat of the first pass
    is accepted, for a feeder that offers a beat every cycle.
    """
    first_beat: int
    last_beat: int
    first_row: int
    last_row: int


def schedule_passes(ks, config):
    """Return the :class:`PassSchedule` of consecutive passes of ``ks`` beats each.

    Output-stationary: the array accepts beats back to back, except that a pass's last beat
    waits until ``config.min_pass_spacing`` cycles after the previous pass's last beat. Row
    ``i`` of a pass appears ``config.result_latency + i`` cycles after its last beat.

    Weight-stationary: ``ks`` are the passes' row beats (M each);
    see :func:`~.ws_model.ws_schedule_passes`.
    """
    if config.weight_stationary:
        from .ws_model import ws_schedule_passes
        return ws_schedule_passes(ks, config)
    schedule = []
    next_beat = 0
    previous_last = None
    for k in ks:
        if k < 1:
            raise ValueError(f"a pass needs at least one beat, got K={k}")
        last = next_beat + k - 1
        if previous_last is not None:
            last = max(last, previous_last + config.min_pass_spacing)
        first_row = last + config.result_latency
        schedule.append(PassSchedule(next_beat, last, first_row, first_row + config.rows - 1))
        previous_last = last
        next_beat = last + 1
    return schedule


def array_cycles(ks, config):
    """Cycles from the first accepted beat to the last result row, both counted."""
    return schedule_passes(ks, config)[-1].last_row + 1


def gemm_passes(m, n, config):
    """Number of R x C output tiles (output-stationary array passes) an M x N result needs."""
    return math.ceil(m / config.rows) * math.ceil(n / config.cols)


def gemm_cycles(m, k, n, config):
    """Cycles the bare array takes for an M x K x N GEMM fed one tile pass after another.

    Output-stationary: a pass of K beats per R x C output tile. Weight-stationary: a pass of M
    row beats per R x C weight tile (:func:`~.ws_model.ws_gemm_cycles`).
    """
    if config.weight_stationary:
        from .ws_model import ws_gemm_cycles
        return ws_gemm_cycles(m, k, n, config)
    return array_cycles([k] * gemm_passes(m, n, config), config)


def result_rows(m, k, n, config):
    """Result rows the bare array gives for an M x K x N GEMM: ``rows`` a pass
    (output-stationary), ``M`` a pass (weight-stationary)."""
    if config.weight_stationary:
        from .ws_model import ws_gemm_passes
        return m * ws_gemm_passes(k, n, config)
    return config.rows * gemm_passes(m, n, config)


def ideal_cycles(m, k, n, config):
    """The ideal ``M*N*K / (R*C)``: every MAC unit doing useful work every cycle."""
    return m * n * k / config.macs
