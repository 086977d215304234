"""Amaranth shapes and payload layouts derived from an :class:`~.config.ArrayConfig`."""

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

__all__ = ["a_shape", "b_shape", "product_shape", "acc_shape", "operand_layout", "result_layout",
           "init_layout", "ws_operand_layout"]


def _shape(width, config):
    return signed(width) if config.signed else unsigned(width)


def a_shape(config):
    """Shape of one A operand."""
    return _shape(config.a_width, config)


def b_shape(config):
    """Shape of one B operand."""
    return _shape(config.b_width, config)


def product_shape(config):
    """Shape of one full-precision product."""
    return _shape(config.product_width, config)


def acc_shape(config):
    """Shape of an accumulator and of one result element."""
    return _shape(config.acc_width, config)


def operand_layout(config):
    """Payload of one array input beat: a column of A, a row of B and the end-of-pass flag.

    ``a[i]`` feeds array row ``i`` and ``b[j]`` array column ``j`` for the same K step;
    ``last`` marks the final K step of a pass.
    """
    return data.StructLayout({
        "a":    data.ArrayLayout(a_shape(config), config.rows),
        "b":    data.ArrayLayout(b_shape(config), config.cols),
        "last": 1,
    })


def ws_operand_layout(config):
    """Payload of one weight-stationary array input beat: a row of A with the partial sums it
    starts from, and a row of weights for the next tile.

    ``a[i]`` feeds array row ``i`` (``A[m, k0 + i]``) and ``psum[j]`` column ``j``'s top, on a
    beat with ``row`` set; ``first`` marks a pass's first row (the PEs take the loaded weight
    tile before it), ``last`` its last row (the result row is flagged ``last``). ``w[j]``
    shifts into column ``j``'s weight chain on a beat with ``load`` set (a tile's bottom row
    first). A beat may carry a row, a weight row, both or neither.
    """
    return data.StructLayout({
        "a":     data.ArrayLayout(a_shape(config), config.rows),
        "w":     data.ArrayLayout(b_shape(config), config.cols),
        "psum":  data.ArrayLayout(acc_shape(config), config.cols),
        "row":   1,
        "load":  1,
        "first": 1,
        "last":  1,
    })


def result_layout(config):
    """Payload of one array output beat: one row of the result tile.

    ``last`` marks the bottom row (``rows - 1``) of a tile.
    """
    return data.StructLayout({
        "data": data.ArrayLayout(acc_shape(config), config.cols),
        "last": 1,
    })


def init_layout(config):
    """A row of values a preloading array's PEs start their next pass from.

    ``data[j]`` goes to column ``j`` of row ``row``; ``valid`` says the cycle carries one.
    """
    return data.StructLayout({
        "data":  data.ArrayLayout(acc_shape(config), config.cols),
        "row":   range(max(config.rows, 2)),
        "valid": 1,
    })
