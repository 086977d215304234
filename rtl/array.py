"""The R x C output-stationary systolic array with operand skewing and a result stream."""

import math

from amaranth.hdl import Cat, Const, Module, Signal, Value
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .config import ConfigError
from .lib.kept_register import kept_register
from .pe import ProcessingElement
from .shapes import init_layout, operand_layout, result_layout

__all__ = ["SystolicArray", "make_array", "pass_spacing", "delay_line", "feed_rows"]


def make_array(config):
    """Return the array of ``config.dataflow``: a :class:`SystolicArray` (output-stationary)
    or a :class:`~.ws_array.WSSystolicArray` (weight-stationary)."""
    if config.weight_stationary:
        from .ws_array import WSSystolicArray
        return WSSystolicArray(config)
    return SystolicArray(config)


class SystolicArray(wiring.Component):
    """An R x C grid of :class:`ProcessingElement` computing one R x C tile of ``A @ B`` a pass.

    A *pass* is a sequence of K input beats. Beat ``k`` carries column ``k`` of an R x K block of
    A (``a[i] = A[i, k]``) and row ``k`` of a K x C block of B (``b[j] = B[k, j]``), unskewed:
    the array delays row ``i`` of A by ``i`` cycles and column ``j`` of B by ``j`` cycles
    itself. The beat with ``last`` set ends the pass. Bubbles (cycles without ``valid``) may
    appear anywhere. The next pass may start on the cycle after ``last``.

    Results leave through ``o_stream`` one tile row a beat, row 0 first, the bottom row
    flagged ``last``; row ``i`` of a pass appears ``config.result_latency + i`` cycles after
    the pass's last beat was accepted. The output has no backpressure: the consumer must take
    every beat. To keep rows of consecutive passes from colliding, the array holds a pass's
    ``last`` beat (``i_stream.ready`` low) until ``config.min_pass_spacing`` cycles have passed
    since the previous pass's last beat; passes of at least that many beats never wait.

    With ``preload`` each pass starts from values given beforehand instead of zero (see
    :class:`~.pe.ProcessingElement`): a cycle with ``init.valid`` gives row ``init.row`` of the
    PEs the values ``init.data`` (one a column) that their next pass starts from. Row ``i``'s
    values must be given before its first PE's first step of that pass,
    :attr:`~.config.ArrayConfig.accumulate_delay` ``+ i`` cycles after the pass's first beat
    was accepted, and after the last PE of the row took its first step of the pass before.

    Parameters
    ----------
    config : ArrayConfig
        The design.
    preload : bool
        Give the array the ``init`` port.

    Members
    -------
    i_stream : In(stream.Signature(operand_layout(config)))
        Operand beats.
    o_stream : Out(stream.Signature(result_layout(config), always_ready=True))
        Result rows.
    init : In(init_layout(config))
        With ``preload`` only: values a row of PEs starts its next pass from.
    row_next : Out(1)
        ``o_stream.valid`` of the next cycle: a user that must act a cycle before a row (a
        read of a memory across the die, through registers beside it) learns of it here.
    """

    def __init__(self, config, *, preload=False):
        if config.dataflow != "output-stationary":
            raise ConfigError("dataflow", config.dataflow,
                              "SystolicArray is the output-stationary array (make_array builds "
                              "either dataflow's)")
        self._config = config
        self._preload = preload
        members = {
            "i_stream": In(stream.Signature(operand_layout(config))),
            "o_stream": Out(stream.Signature(result_layout(config), always_ready=True)),
            "row_next": Out(1),
        }
        if preload:
            members["init"] = In(init_layout(config))
        super().__init__(members)

    @property
    def config(self):
        """The :class:`ArrayConfig` this array was built from."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config
        rows, cols = config.rows, config.cols

        accept = Signal()
        beat = self.i_stream.payload

        # Hold a pass's last beat until the previous pass's rows have left (see class docs).
        spaced = pass_spacing(m, config, accept & beat.last)
        m.d.comb += [
            self.i_stream.ready.eq(~beat.last | spaced),
            accept.eq(self.i_stream.valid & self.i_stream.ready),
        ]

        pes = [[ProcessingElement(config, preload=self._preload, index=(i, j))
                for j in range(cols)] for i in range(rows)]
        for i in range(rows):
            for j in range(cols):
                m.submodules[f"pe_{i}_{j}"] = pes[i][j]
            if self._preload:
                load = Signal(name=f"init_load_{i}")
                m.d.comb += load.eq(self.init.valid & (self.init.row == i))
                for j in range(cols):
                    m.d.comb += [pes[i][j].init_in.eq(self.init.data[j]),
                                 pes[i][j].init_load.eq(load)]

        def delayed(value, cycles, name, *, keep=False):
            return delay_line(m, platform, value, cycles, name, keep=keep)

        valid = accept
        if config.input_stages:
            # ``accept`` depends on ``ready``, which the feeder's every register waits on:
            # taken into one register here, it does not also reach across the first PEs.
            valid = Signal(name="valid_in")
            beat = Signal.like(self.i_stream.payload, name="beat_in")
            m.d.sync += [valid.eq(accept), beat.eq(self.i_stream.payload)]
        # Skew: row i of A and its control flags enter i cycles late, column j of B j cycles
        # late, so that A[i, k] and B[k, j] meet in PE (i, j) on the same cycle.
        feed_rows(m, platform, pes, {"a": lambda i: beat.a[i], "valid": lambda i: valid,
                                     "last": lambda i: beat.last})
        for j in range(cols):
            m.d.comb += pes[0][j].b_in.eq(delayed(beat.b[j], j, f"b{j}_skew"))
            for i in range(1, rows):
                m.d.comb += pes[i][j].b_in.eq(pes[i - 1][j].b_out)

        # A row is complete when its rightmost PE finishes; rows of one pass finish on
        # consecutive cycles and passes are spaced so that at most one row finishes a cycle,
        # so an AND-OR mux over the finished rows picks it (no priority logic needed).
        row_done = Cat(pes[i][cols - 1].done for i in range(rows))
        width = config.acc_width
        if config.mux_stages == 0:
            for j in range(cols):
                selected = _and_or((pes[i][j].result, row_done[i]) for i in range(rows))
                m.d.sync += self.o_stream.payload.data[j].eq(selected)
            m.d.comb += self.row_next.eq(row_done.any())
            m.d.sync += [
                self.o_stream.valid.eq(self.row_next),
                self.o_stream.payload.last.eq(row_done[rows - 1]),
            ]
            return m

        # Pipelined: a registered level ORs each group of neighbouring rows, the output
        # register ORs the groups, so neither gathers from every row across the die. A group
        # holds zero unless one of its rows finished, so the second level needs no select.
        # Each PE selects itself with its own `done` delayed to when the row's last PE is done
        # (PE (i, j) finishes cols - 1 - j cycles before it), rather than with one row-wide
        # signal from the last column that would have to reach every column in a cycle; the
        # delays are kept apart (`kept_register`), as Yosys would merge them all into that one.
        size = math.isqrt(rows - 1) + 1     # ceil(sqrt(rows)): as many groups as rows a group
        groups = [range(start, min(start + size, rows)) for start in range(0, rows, size)]
        group_data = [[Signal(width, name=f"group{g}_data{j}") for j in range(cols)]
                      for g in range(len(groups))]
        group_valid = Signal(len(groups))
        for g, members in enumerate(groups):
            for j in range(cols):
                m.d.sync += group_data[g][j].eq(_and_or(
                    (pes[i][j].result, delayed(pes[i][j].done, cols - 1 - j, f"done{i}_{j}", keep=True))
                    for i in members))
            m.d.sync += group_valid[g].eq(row_done[members.start:members.stop].any())
        group_last = Signal()
        m.d.sync += group_last.eq(row_done[rows - 1])
        for j in range(cols):
            m.d.sync += self.o_stream.payload.data[j].eq(
                _and_or((group_data[g][j], 1) for g in range(len(groups))))
        m.d.comb += self.row_next.eq(group_valid.any())
        m.d.sync += [
            self.o_stream.valid.eq(self.row_next),
            self.o_stream.payload.last.eq(group_last),
        ]
        return m


def delay_line(m, platform, value, cycles, name, *, keep=False):
    """Add to ``m`` a chain of ``cycles`` registers after ``value`` (``{name}_d1`` ...); return
    its end (``value`` itself for none). ``keep`` makes them registers synthesis keeps apart
    (:func:`~.lib.kept_register.kept_register`)."""
    for n in range(cycles):
        reg = Signal.like(value, name=f"{name}_d{n + 1}")
        if keep:
            kept_register(m, platform, reg, value)
        else:
            m.d.sync += reg.eq(value)
        value = reg
    return value


def feed_rows(m, platform, pes, edge):
    """Feed the rows of the PE grid ``pes`` from the left, as both dataflows' arrays do.

    ``edge`` maps a port stem (``"a"`` for the PEs' ``a_in`` and ``a_out``) to a function of
    the row index that gives the value at the array's edge. Row ``i``'s values enter ``i``
    cycles late (registers ``{stem}{i}_skew_d1`` ...) and pass from each PE to the next on
    the right through its registered output.
    """
    for i, row in enumerate(pes):
        for stem, value in edge.items():
            m.d.comb += getattr(row[0], f"{stem}_in").eq(
                delay_line(m, platform, value(i), i, f"{stem}{i}_skew"))
            for left, right in zip(row, row[1:]):
                m.d.comb += getattr(right, f"{stem}_in").eq(getattr(left, f"{stem}_out"))


def pass_spacing(m, config, pass_end, *, spacing=None):
    """Add to ``m`` the array's pass-spacing timer; return its flag: a pass may end now.

    The flag is high once ``spacing`` (default ``config.min_pass_spacing``, at least 1)
    cycles have passed since the last cycle ``pass_end`` was high (and from reset). It is a flip-flop of its own, set as the count
    steps onto the spacing, rather than a comparator behind the count: whatever waits on it
    (the array's ``ready``, and every register of the feeder behind that) is then one gate
    from flip-flops.
    """
    spacing = config.min_pass_spacing if spacing is None else spacing
    since_last = Signal(range(spacing + 1), init=spacing)
    spaced = Signal(init=1)
    with m.If(pass_end):
        m.d.sync += [since_last.eq(1), spaced.eq(spacing == 1)]
    with m.Elif(~spaced):
        m.d.sync += [since_last.eq(since_last + 1), spaced.eq(since_last + 1 == spacing)]
    return spaced


def _and_or(terms):
    """OR of the ``value`` of each ``(value, select)`` of ``terms`` whose 1-bit ``select`` is
    set (as raw bits: the values are results of one width)."""
    terms = list(terms)
    selected = Const(0, len(terms[0][0]))
    for value, select in terms:
        selected = selected | (value.as_unsigned() & Value.cast(select).replicate(len(value)))
    return selected
