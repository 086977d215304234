"""The processing element of a weight-stationary array: one stationary weight, a partial sum
passing through."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .lib.kept_register import kept_register
from .multiplier import make_multiplier
from .pe import overflow_sum
from .shapes import a_shape, b_shape, product_shape, acc_shape

__all__ = ["WSProcessingElement"]


class WSProcessingElement(wiring.Component):
    """One cell of a weight-stationary systolic array.

    The PE holds two weights: the *active* one, which multiplies every A value passing
    through, and the *shadow* one, a stage of its column's weight chain (``w_in`` from above,
    ``w_out`` below), which shifts on a cycle with ``w_shift`` set. The step that carries a
    pass's first row (``valid_in`` and ``first_in``) takes the shadow weight as the active
    one, and multiplies with it already, so the chain may load the next tile while the
    current one computes.

    A values arrive from the left with their flags and leave registered to the right. Each
    A value is multiplied by the active weight into a product register (two stages after the
    PE's inputs, whatever multiplier builds it, :mod:`.multiplier`; ``config.product_stages``
    more with ``config.pipeline``), and the product is added to ``psum_in`` into the
    registered ``psum_out``: a partial sum entering the top of PE ``(i, j)`` on the cycle
    ``2 + product_stages`` after its A value entered the PE leaves ``3 + product_stages``
    cycles after, which is when the PE below, one cycle later in the row skew, needs it. The
    sum follows the configured overflow rule (:func:`~.pe.overflow_sum`), so a saturating
    partial sum clamps at every step.

    Parameters
    ----------
    config : ArrayConfig
        Operand, product and accumulator widths, signedness and overflow mode.
    index : tuple of int or None
        The PE's ``(row, column)`` in its array, for a hard-multiplier budget's placement plan
        (:class:`~.multiplier.MultiplierBudget`).

    Members
    -------
    a_in : In
        A value from the left neighbour (or the array edge).
    valid_in, first_in : In(1)
        The step carries a row; it is the first row of a pass.
    a_out, valid_out, first_out : Out
        The registered inputs, for the right neighbour.
    psum_in : In(acc)
        Partial sum from the PE above (or the array's top).
    psum_out : Out(acc)
        ``psum_in`` plus this PE's product, registered.
    w_in : In(b), w_shift : In(1)
        The weight chain from above, and when it shifts.
    w_out : Out(b)
        The shadow weight, for the PE below.
    """

    def __init__(self, config, *, index=None):
        self._config = config
        self._index = index
        super().__init__({
            "a_in":      In(a_shape(config)),
            "valid_in":  In(1),
            "first_in":  In(1),
            "a_out":     Out(a_shape(config)),
            "valid_out": Out(1),
            "first_out": Out(1),
            "psum_in":   In(acc_shape(config)),
            "psum_out":  Out(acc_shape(config)),
            "w_in":      In(b_shape(config)),
            "w_shift":   In(1),
            "w_out":     Out(b_shape(config)),
        })

    def accumulate(self, psum, product):
        """Return the expression of ``psum + product`` after the configured overflow rule."""
        return overflow_sum(self._config, psum, product)

    def elaborate(self, platform):
        m = Module()
        config = self._config

        m.d.sync += self.a_out.eq(self.a_in)
        for target, value in ((self.valid_out, self.valid_in), (self.first_out, self.first_in)):
            kept_register(m, platform, target, value, keep=config.pipeline > 0)

        with m.If(self.w_shift):
            m.d.sync += self.w_out.eq(self.w_in)
        swap = self.valid_in & self.first_in
        active = Signal(b_shape(config))
        # The first row of a pass multiplies with the weight it swaps in.
        weight = Mux(swap, self.w_out, active)
        with m.If(swap):
            m.d.sync += active.eq(self.w_out)

        product = Signal(product_shape(config))
        _, multiplier = make_multiplier(platform, config, self._index)
        if multiplier is None:
            # `active` is registered beside `a_out`: the same stage as a hard multiplier's
            # input registers, which take `weight` and `a_in`.
            m.d.sync += product.eq(self.a_out * active)
        else:
            m.submodules.multiplier = multiplier
            m.d.comb += [
                multiplier.a.eq(self.a_in),
                multiplier.b.eq(weight),
                product.eq(multiplier.product),
            ]
        for n in range(config.product_stages):
            stage = Signal.like(product, name=f"product_p{n + 1}")
            m.d.sync += stage.eq(product)
            product = stage

        # No valid gating: a partial sum without a row is never taken as a result.
        m.d.sync += self.psum_out.eq(self.accumulate(self.psum_in, product))
        return m
