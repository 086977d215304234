"""Packing array beats to and from the flat bit vectors of the generated ports.

The layouts follow :mod:`systolic.rtl.shapes`: fields from the least significant bit in
declaration order, array elements from index 0 upwards. Backends that drive the Verilog
(cocotb) and the Amaranth simulator share these helpers; no Amaranth import here.
"""

__all__ = ["to_bits", "from_bits", "pack_operands", "unpack_result", "operand_bits", "result_bits",
           "beat_bits", "unpack_beat"]


def to_bits(value, width):
    """Two's complement bits of ``value`` in ``width`` bits, as a non-negative int."""
    return int(value) & ((1 << width) - 1)


def from_bits(bits, width, signed):
    """Integer value of the low ``width`` bits of ``bits``."""
    bits &= (1 << width) - 1
    if signed and bits >> (width - 1):
        return bits - (1 << width)
    return bits


def operand_bits(config):
    """Width of one operand beat (``i_stream.payload``)."""
    return config.rows * config.a_width + config.cols * config.b_width + 1


def result_bits(config):
    """Width of one result row (``o_stream.payload``)."""
    return config.cols * config.acc_width + 1


def pack_operands(a_column, b_row, last, config):
    """Pack one beat: ``a_column[i]`` for row i, ``b_row[j]`` for column j, the ``last`` flag."""
    bits, offset = 0, 0
    for value in a_column:
        bits |= to_bits(value, config.a_width) << offset
        offset += config.a_width
    for value in b_row:
        bits |= to_bits(value, config.b_width) << offset
        offset += config.b_width
    return bits | (int(bool(last)) << offset)


def unpack_result(bits, config):
    """Unpack one result row into ``(values, last)``."""
    width = config.acc_width
    values = [from_bits(bits >> (j * width), width, config.signed) for j in range(config.cols)]
    return values, bool((bits >> (config.cols * width)) & 1)


def beat_bits(config):
    """Width of one beat of the GEMM engine's output stream (an :class:`~systolic.rtl.
    engine_config.EngineConfig`): ``cols`` words, then the count of the ones it carries."""
    cols = config.array.cols
    return cols * config.word_width + cols.bit_length()


def unpack_beat(bits, config):
    """The words one output beat of the GEMM engine carries (its first ``count`` columns)."""
    width, cols = config.word_width, config.array.cols
    count = (bits >> (cols * width)) & ((1 << cols.bit_length()) - 1)
    return [(bits >> (j * width)) & ((1 << width) - 1) for j in range(count)]
