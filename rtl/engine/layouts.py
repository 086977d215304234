"""Amaranth shapes and memory port signatures of the GEMM engine, from an :class:`EngineConfig`."""

from amaranth.hdl import unsigned
from amaranth.lib import data
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.utils import ceil_log2

from ..shapes import a_shape, b_shape, acc_shape

__all__ = [
    "job_layout", "status_layout", "a_word_layout", "b_word_layout", "result_row_layout",
    "a_depth", "b_depth", "a_write_signature", "b_write_signature", "a_read_signature",
    "b_read_signature", "result_write_signature", "result_read_signature", "word_shape",
    "result_beat_layout",
]


def word_shape(config):
    """Shape of one stream word."""
    return unsigned(config.word_width)


def result_beat_layout(config):
    """One beat of the engine's output stream: a row of results, or a status word.

    ``data[j]`` is column ``j`` of a result row inside N, the accumulator sign-extended (zero-
    extended if unsigned) to a stream word; ``count`` (1 to ``cols``) says how many columns the
    beat carries, from column 0. A status word is ``data[0]`` of a beat with ``count`` 1.
    """
    return data.StructLayout({
        "data":  data.ArrayLayout(word_shape(config), config.array.cols),
        "count": range(1, config.array.cols + 1),
    })


def job_layout(config):
    """The parameters of the job in (or last through) the array, latched at launch.

    ``m_over`` and ``n_over`` are ``m > rows`` and ``n > cols`` (more than one block of
    tiles), compared at launch so that the tile walks that read them wait on no comparator.
    """
    return data.StructLayout({
        "m":          range(config.max_m + 1),
        "k":          range(config.max_k + 1),
        "n":          range(config.max_n + 1),
        "m_over":     1,
        "n_over":     1,
        "bank":       1,
        "accumulate": 1,
        "emit":       1,
    })


def status_layout():
    """Status pins of the engine (the same fields as the status word, for LEDs and tests)."""
    return data.StructLayout({"busy": 1, "error": 1, "code": 4})


def a_word_layout(config):
    """One A buffer word: the ``rows`` operands of one beat, one write lane each."""
    return data.ArrayLayout(a_shape(config.array), config.array.rows)


def b_word_layout(config):
    """One B buffer word: the ``cols`` operands of one beat, one write lane each."""
    return data.ArrayLayout(b_shape(config.array), config.array.cols)


def result_row_layout(config):
    """One result buffer word: a row of a result tile."""
    return data.ArrayLayout(acc_shape(config.array), config.array.cols)


def a_depth(config):
    """Words of the A memory (both banks)."""
    return 2 * config.a_bank_words


def b_depth(config):
    """Words of the B memory (both banks)."""
    return 2 * config.b_bank_words


def a_write_signature(config):
    """Write port of the A memory: one enable per lane (operand)."""
    return WritePort.Signature(addr_width=ceil_log2(a_depth(config)),
                               shape=a_word_layout(config), granularity=1)


def b_write_signature(config):
    """Write port of the B memory: one enable per lane (operand)."""
    return WritePort.Signature(addr_width=ceil_log2(b_depth(config)),
                               shape=b_word_layout(config), granularity=1)


def a_read_signature(config):
    """Read port of the A memory: one beat of A a read."""
    return ReadPort.Signature(addr_width=ceil_log2(a_depth(config)), shape=a_word_layout(config))


def b_read_signature(config):
    """Read port of the B memory: one beat of B a read."""
    return ReadPort.Signature(addr_width=ceil_log2(b_depth(config)), shape=b_word_layout(config))


def result_write_signature(config):
    """Write port of the result buffer: one tile row a write."""
    return WritePort.Signature(addr_width=ceil_log2(config.result_rows),
                               shape=result_row_layout(config))


def result_read_signature(config):
    """Read port of the result buffer: one tile row a read."""
    return ReadPort.Signature(addr_width=ceil_log2(config.result_rows),
                              shape=result_row_layout(config))
