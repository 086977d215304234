"""The R x C weight-stationary systolic array: double-buffered weights, partial sums down the
columns, a de-skewed stream of result rows."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .array import delay_line, feed_rows, pass_spacing
from .shapes import result_layout, ws_operand_layout
from .ws_pe import WSProcessingElement

__all__ = ["WSSystolicArray"]


class WSSystolicArray(wiring.Component):
    """An R x C grid of :class:`~.ws_pe.WSProcessingElement` holding an R x C tile of B.

    PE ``(i, j)`` holds ``B[k0 + i, n0 + j]``. A *pass* streams rows of A past one weight
    tile: a beat with ``row`` set carries ``a[i] = A[m, k0 + i]`` and the C partial sums the
    row starts from (``psum[j]``: zero for the first K tile, the previous K tile's sums
    after), unskewed: the array delays row ``i`` of A by ``i`` cycles and column ``j``'s
    partial sum by ``j`` (and the PE's product stages) itself. The row flagged ``first``
    opens a pass (its PEs take the loaded weights), the one flagged ``last`` ends it.

    Weights load through a shift chain a column, beside the active weights: a beat with
    ``load`` set shifts ``w`` (a row of the next tile, its bottom row first, ``rows`` beats a
    tile) into the chain, on beats of their own or on a pass's row beats. The array holds a
    beat (``i_stream.ready`` low) that would break the double buffering: a ``first`` row
    before ``rows`` weight rows were loaded since the previous ``first``; a ``load`` less than
    ``config.weight_load_delay`` cycles after a ``first`` (the last PE has not taken its
    weight yet), or after a whole tile is loaded and not yet taken. A pass so follows the
    previous one at least ``config.min_pass_spacing`` cycles after its ``first`` beat; a feeder
    that places its beats as :func:`~systolic.sim.ws_tiling.ws_gemm_beats` does is never held.
    Bubbles (cycles without ``valid``) may appear anywhere.

    Each row beat gives one result row, in beat order: the C partial sums after the tile's
    products, ``config.result_latency`` cycles after the beat was accepted, through
    ``o_stream`` (no backpressure: the consumer must take every beat), flagged ``last`` after
    a ``last`` row.

    Parameters
    ----------
    config : ArrayConfig
        The design (``dataflow="weight-stationary"``).

    Members
    -------
    i_stream : In(stream.Signature(ws_operand_layout(config)))
        Row and weight beats.
    o_stream : Out(stream.Signature(result_layout(config), always_ready=True))
        Result rows.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "i_stream": In(stream.Signature(ws_operand_layout(config))),
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

        beat = self.i_stream.payload
        accept = Signal()
        opens = Signal()
        m.d.comb += opens.eq(beat.row & beat.first)

        # Double buffering: weight rows loaded since the last pass opened, and whether the
        # last PE has taken that pass's weights (the chain may shift again).
        loaded = Signal(range(rows + 1))
        full = Signal()
        m.d.comb += full.eq(loaded == rows)
        delay = config.weight_load_delay
        if delay:
            settled = pass_spacing(m, config, accept & opens, spacing=delay)
        else:
            settled = 1
        # A first row swaps the tile out, so it may load the next one's first weight row
        # itself only when nothing else still reads the chain (delay 0: a 1 x 1 array).
        may_load = Signal()
        m.d.comb += may_load.eq(
            (opens & int(delay == 0)) | (~opens & settled & ~full))
        m.d.comb += [
            self.i_stream.ready.eq((~opens | full) & (~beat.load | may_load)),
            accept.eq(self.i_stream.valid & self.i_stream.ready),
        ]
        with m.If(accept & opens):
            m.d.sync += loaded.eq(beat.load)
        with m.Elif(accept & beat.load):
            m.d.sync += loaded.eq(loaded + 1)

        def delayed(value, cycles, name):
            return delay_line(m, platform, value, cycles, name)

        valid = Signal()
        m.d.comb += valid.eq(accept & beat.row)
        shift = Signal()
        m.d.comb += shift.eq(accept & beat.load)
        if config.input_stages:
            # As in the output-stationary array: `accept` waits on `ready`, which is kept
            # from reaching across the first PEs by one register.
            valid, shift = Signal(name="valid_in"), Signal(name="shift_in")
            beat = Signal.like(self.i_stream.payload, name="beat_in")
            m.d.sync += [valid.eq(accept & self.i_stream.payload.row),
                         shift.eq(accept & self.i_stream.payload.load),
                         beat.eq(self.i_stream.payload)]

        pes = [[WSProcessingElement(config, index=(i, j)) for j in range(cols)]
               for i in range(rows)]
        for i in range(rows):
            for j in range(cols):
                m.submodules[f"pe_{i}_{j}"] = pes[i][j]
                m.d.comb += pes[i][j].w_shift.eq(shift)

        # Skew: row i of A and its flags enter i cycles late, so that row m meets column j's
        # partial sum in PE (i, j) one cycle after it left PE (i - 1, j).
        feed_rows(m, platform, pes, {"a": lambda i: beat.a[i], "valid": lambda i: valid,
                                     "first": lambda i: beat.first})
        # A PE adds its product to the partial sum 2 + product_stages cycles after its A value
        # arrives; column j's A value reaches the top row j cycles late.
        top = 2 + config.product_stages
        for j in range(cols):
            m.d.comb += [
                pes[0][j].psum_in.eq(delayed(beat.psum[j], j + top, f"psum{j}_skew")),
                pes[0][j].w_in.eq(beat.w[j]),
            ]
            for i in range(1, rows):
                m.d.comb += [pes[i][j].psum_in.eq(pes[i - 1][j].psum_out),
                             pes[i][j].w_in.eq(pes[i - 1][j].w_out)]

        # De-skew: column j's sums leave the bottom row cols - 1 - j cycles before the last
        # column's, so that a result beat is one row of A.
        for j in range(cols):
            m.d.comb += self.o_stream.payload.data[j].eq(
                delayed(pes[rows - 1][j].psum_out, cols - 1 - j, f"psum{j}_deskew"))
        # The row flags follow the sums: the latency less the input register, when there is one.
        wait = config.result_latency - config.input_stages
        m.d.comb += [
            self.o_stream.valid.eq(delayed(valid, wait, "row_valid")),
            self.o_stream.payload.last.eq(delayed(valid & beat.last, wait, "row_last")),
        ]
        return m
