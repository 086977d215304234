"""Packing array beats to and from the flat bit vectors of the generated ports.

The layouts follow :mod:`systolic.rtl.shapes`: fields from the least significant bit in
declaration order, array elements from index 0 upwards. Backends that drive the Verilog
(cocotb) and the Amaranth simulator share these helpers; no Amaranth import here.
"""

__all__ = ["to_bits", "from_bits", "pack_operands", "unpack_result", "operand_bits", "result_bits",
           "beat_bits", "unpack_beat", "pack_ws_operands", "pack_fields"]


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
    """Width of one operand beat (``i_stream.payload``) of either dataflow's array."""
    bits = config.rows * config.a_width + config.cols * config.b_width + 1
    if config.weight_stationary:
        # The psum lanes and the row, load and first flags (layout: ws_operand_layout).
        bits += config.cols * config.acc_width + 3
    return bits


def pack_fields(fields):
    """Pack ``(values, width)`` pairs from the least significant bit, each value's two's
    complement bits in turn; return ``(bits, offset)``, the packed int and its width."""
    bits, offset = 0, 0
    for values, width in fields:
        for value in values:
            bits |= to_bits(value, width) << offset
            offset += width
    return bits, offset


def result_bits(config):
    """Width of one result row (``o_stream.payload``)."""
    return config.cols * config.acc_width + 1


def pack_operands(a_column, b_row, last, config):
    """Pack one beat: ``a_column[i]`` for row i, ``b_row[j]`` for column j, the ``last`` flag."""
    bits, _ = pack_fields([(a_column, config.a_width), (b_row, config.b_width),
                           ([bool(last)], 1)])
    return bits


def pack_ws_operands(a_row, w_row, psum, *, row, load, first, last, config):
    """Pack one weight-stationary beat (:func:`~systolic.rtl.shapes.ws_operand_layout`):
    ``a_row[i]`` for array row i, ``w_row[j]`` and ``psum[j]`` for column j, and the flags."""
    bits, _ = pack_fields([(a_row, config.a_width), (w_row, config.b_width),
                           (psum, config.acc_width),
                           ([bool(row), bool(load), bool(first), bool(last)], 1)])
    return bits


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
