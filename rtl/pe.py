"""The processing element: one multiply-accumulate cell of an output-stationary array."""

from amaranth.hdl import Module, Mux, ResetSignal, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .lib.kept_register import kept_register
from .multiplier import make_multiplier
from .shapes import a_shape, b_shape, product_shape, acc_shape

__all__ = ["ProcessingElement", "overflow_sum"]


def overflow_sum(config, acc, product):
    """Return the expression of ``acc + product`` after ``config``'s overflow rule: the wide
    sum (which the destination register wraps to ``acc_width`` bits), or clamped to the
    accumulator range. Both dataflows' PEs add this way, so they give the same bits."""
    total = acc + product
    if config.overflow == "saturate":
        lo, hi = config.acc_range
        if not config.signed:
            # An unsigned sum cannot fall below zero: no comparison that is always false.
            return Mux(total > hi, hi, total)
        return Mux(total > hi, hi, Mux(total < lo, lo, total))
    return total


class ProcessingElement(wiring.Component):
    """One cell of an output-stationary systolic array.

    Operands arrive from the left (``a_in`` with the control flags) and from the top (``b_in``),
    are registered, and leave registered to the right and to the bottom, so neighbouring cells
    see them one cycle later. Each valid step multiplies the registered operands into a product
    register (which lets Yosys map the multiplier onto a hard DSP and keeps the adder's carry
    chain apart from the multiplier) and adds the product to the accumulator. On the last step
    of a pass the final sum goes to ``result`` and the accumulator restarts from zero, so the
    next pass can follow without a gap.

    On an FPGA the operand and product registers on the multiplier's path may be those of a
    hard multiplier, or the multiplier may be built from logic cells split over the same two
    stages (:mod:`.multiplier`); the cycle timing is the same for every kind, and in
    simulation (no platform) the PE is always the plain ``a * b`` between two registers. With
    ``config.pipeline`` set, the product passes ``config.product_stages`` more registers of
    logic cells before the accumulator, so ``result`` and ``done`` come that many cycles later.

    With ``preload`` a pass starts from a value given beforehand instead of zero: the PE keeps
    the value ``init_in`` carries on a cycle with ``init_load`` set, and its first step of the
    next pass adds the product to that value. A GEMM engine continues a K-chunked dot product
    this way, so that a saturating accumulator clamps at every step of the whole K, whatever
    the chunks.

    Parameters
    ----------
    config : ArrayConfig
        Operand, product and accumulator widths, signedness and overflow mode.
    preload : bool
        Start each pass from the last value loaded (``init_in``, ``init_load``).
    index : tuple of int or None
        The PE's ``(row, column)`` in its array, for a hard-multiplier budget's placement plan
        (:class:`~.multiplier.MultiplierBudget`).

    Members
    -------
    a_in, b_in : In
        Operands from the left and top neighbours (or the array edge).
    valid_in, last_in : In(1)
        The step carries operands; it is the last step of a pass.
    a_out, b_out, valid_out, last_out : Out
        The registered inputs, for the right and bottom neighbours.
    result : Out
        The finished dot product of the most recent pass.
    done : Out(1)
        ``result`` was written by the previous clock edge.
    init_in : In(acc), init_load : In(1)
        With ``preload`` only: the value the next pass starts from, and when to take it.
    """

    def __init__(self, config, *, preload=False, index=None):
        self._config = config
        self._index = index
        self._preload = preload
        members = {
            "a_in":      In(a_shape(config)),
            "b_in":      In(b_shape(config)),
            "valid_in":  In(1),
            "last_in":   In(1),
            "a_out":     Out(a_shape(config)),
            "b_out":     Out(b_shape(config)),
            "valid_out": Out(1),
            "last_out":  Out(1),
            "result":    Out(acc_shape(config)),
            "done":      Out(1),
        }
        if preload:
            members.update(init_in=In(acc_shape(config)), init_load=In(1))
        super().__init__(members)

    def accumulate(self, acc, product):
        """Return the expression of ``acc + product`` after the configured overflow rule."""
        return overflow_sum(self._config, acc, product)

    def elaborate(self, platform):
        m = Module()
        config = self._config

        # With pipelining, the control flags get registers of their own (see `kept_register`).
        def flag(target, value):
            kept_register(m, platform, target, value, keep=config.pipeline > 0)

        m.d.sync += [
            self.a_out.eq(self.a_in),
            self.b_out.eq(self.b_in),
        ]
        flag(self.valid_out, self.valid_in)
        flag(self.last_out, self.last_in)

        product = Signal(product_shape(config))
        product_valid = Signal()
        product_last = Signal()
        flag(product_valid, self.valid_out)
        flag(product_last, self.last_out)
        # The product register is two stages after the PE's inputs whatever builds it.
        _, multiplier = make_multiplier(platform, config, self._index)
        if multiplier is None:
            m.d.sync += product.eq(self.a_out * self.b_out)
        else:
            m.submodules.multiplier = multiplier
            m.d.comb += [
                multiplier.a.eq(self.a_in),
                multiplier.b.eq(self.b_in),
                product.eq(multiplier.product),
            ]

        # Extra product stages (config.pipeline) are fabric registers: a hard multiplier's
        # output then crosses to the PE's logic without an adder in the same cycle.
        for n in range(config.product_stages):
            stage = (Signal.like(product, name=f"product_p{n + 1}"),
                     Signal(name=f"product_valid_p{n + 1}"), Signal(name=f"product_last_p{n + 1}"))
            m.d.sync += stage[0].eq(product)
            flag(stage[1], product_valid)
            flag(stage[2], product_last)
            product, product_valid, product_last = stage

        # The accumulator restarts from zero after a pass's last step, and on reset. Both are
        # one clear condition on a register without a domain reset, so synthesis puts it on
        # the flip-flops' own synchronous reset rather than a gate on every bit in front of
        # them (the domain reset would take that pin otherwise).
        acc = Signal(acc_shape(config), reset_less=True)
        finished = product_valid & product_last
        flag(self.done, finished)
        if self._preload:
            # The first step of a pass adds to the loaded value; the others to the accumulator.
            start = Signal(acc_shape(config))
            fresh = Signal(init=1)
            with m.If(self.init_load):
                m.d.sync += start.eq(self.init_in)
            total = self.accumulate(Mux(fresh, start, acc), product)
            with m.If(product_valid):
                m.d.sync += [acc.eq(total), fresh.eq(product_last)]
        else:
            total = self.accumulate(acc, product)
            with m.If(finished | ResetSignal(allow_reset_less=True)):
                m.d.sync += acc.eq(0)
            with m.Elif(product_valid):
                m.d.sync += acc.eq(total)
        with m.If(finished):
            m.d.sync += self.result.eq(total)

        return m
