"""The R x C output-stationary systolic array with operand skewing and a result stream."""

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .pe import ProcessingElement
from .shapes import operand_layout, result_layout

__all__ = ["SystolicArray"]


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

    Parameters
    ----------
    config : ArrayConfig
        The design.

    Members
    -------
    i_stream : In(stream.Signature(operand_layout(config)))
        Operand beats.
    o_stream : Out(stream.Signature(result_layout(config), always_ready=True))
        Result rows.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "i_stream": In(stream.Signature(operand_layout(config))),
            "o_stream": Out(stream.Signature(result_layout(config), always_ready=True)),
        })

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
        spacing = config.min_pass_spacing
        since_last = Signal(range(spacing + 1), init=spacing)
        m.d.comb += [
            self.i_stream.ready.eq(~beat.last | (since_last == spacing)),
            accept.eq(self.i_stream.valid & self.i_stream.ready),
        ]
        with m.If(accept & beat.last):
            m.d.sync += since_last.eq(1)
        with m.Elif(since_last != spacing):
            m.d.sync += since_last.eq(since_last + 1)

        pes = [[ProcessingElement(config) for _ in range(cols)] for _ in range(rows)]
        for i in range(rows):
            for j in range(cols):
                m.submodules[f"pe_{i}_{j}"] = pes[i][j]

        # Skew: row i of A and its control flags enter i cycles late, column j of B j cycles
        # late, so that A[i, k] and B[k, j] meet in PE (i, j) on the same cycle.
        def delayed(value, cycles, name):
            for n in range(cycles):
                reg = Signal.like(value, name=f"{name}_d{n + 1}")
                m.d.sync += reg.eq(value)
                value = reg
            return value

        for i in range(rows):
            left = pes[i][0]
            m.d.comb += [
                left.a_in.eq(delayed(beat.a[i], i, f"a{i}_skew")),
                left.valid_in.eq(delayed(accept, i, f"valid{i}_skew")),
                left.last_in.eq(delayed(beat.last, i, f"last{i}_skew")),
            ]
            for j in range(1, cols):
                m.d.comb += [
                    pes[i][j].a_in.eq(pes[i][j - 1].a_out),
                    pes[i][j].valid_in.eq(pes[i][j - 1].valid_out),
                    pes[i][j].last_in.eq(pes[i][j - 1].last_out),
                ]
        for j in range(cols):
            m.d.comb += pes[0][j].b_in.eq(delayed(beat.b[j], j, f"b{j}_skew"))
            for i in range(1, rows):
                m.d.comb += pes[i][j].b_in.eq(pes[i - 1][j].b_out)

        # A row is complete when its rightmost PE finishes; rows of one pass finish on
        # consecutive cycles and passes are spaced so that at most one row finishes a cycle,
        # so an AND-OR mux over the finished rows picks it (no priority logic needed).
        row_done = Cat(pes[i][cols - 1].done for i in range(rows))
        for j in range(cols):
            selected = Const(0, config.acc_width)
            for i in range(rows):
                mask = row_done[i].replicate(config.acc_width)
                selected = selected | (pes[i][j].result.as_unsigned() & mask)
            m.d.sync += self.o_stream.payload.data[j].eq(selected)
        m.d.sync += [
            self.o_stream.valid.eq(row_done.any()),
            self.o_stream.payload.last.eq(row_done[rows - 1]),
        ]

        return m

