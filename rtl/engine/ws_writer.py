"""The result writer of a weight-stationary GEMM engine: partial-sum rows back to their rows."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from ..array import delay_line
from .layouts import result_write_signature
from ..shapes import result_layout

__all__ = ["WSResultWriter"]


class WSResultWriter(wiring.Component):
    """Writes each row of partial sums of the array to the result-buffer row it came from.

    The array gives a row's sums ``result_latency`` cycles after it took the row's beat; the
    feeder names the row's result-buffer row with the beat (``row_addr``), which waits as long
    here. No adder: the array starts every row from the partial sums of the K tiles before (or
    of the job before, for an accumulating job), so the sum is already whole, and it wraps or
    saturates step by step in k whatever the K tiles. The write takes ``result_write_stages``
    registers, as :class:`~.writer.ResultWriter`'s.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    i_stream : In(stream.Signature(result_layout, always_ready=True))
        Result rows of the array.
    row_in : In(1)
        The array takes a row beat on this cycle.
    row_addr : In(range(result_rows))
        That beat's result-buffer row.
    c_write : In(WritePort.Signature)
        Result buffer write port.
    rows_pending : Out(1)
        Some row beat taken by the array is not yet written.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "i_stream":     In(stream.Signature(result_layout(config.array), always_ready=True)),
            "row_in":       In(1),
            "row_addr":     In(range(config.result_rows)),
            "c_write":      In(result_write_signature(config)),
            "rows_pending": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        addr = delay_line(m, platform, self.row_addr, config.array.result_latency, "row_addr")
        en, data = self.i_stream.valid, self.i_stream.payload.data
        for stage in range(config.result_write_stages):
            staged = (Signal(name=f"write_en_{stage}"), Signal.like(data, name=f"write_data_{stage}"),
                      Signal.like(addr, name=f"write_addr_{stage}"))
            m.d.sync += [staged[0].eq(en), staged[1].eq(data), staged[2].eq(addr)]
            en, data, addr = staged
        m.d.comb += [self.c_write.en.eq(en), self.c_write.addr.eq(addr),
                     self.c_write.data.eq(data)]

        # Rows between the array's input and the write: at most the latency's worth.
        span = config.array.result_latency + config.result_write_stages
        pending = Signal(range(span + 2))
        m.d.sync += pending.eq(pending + self.row_in - en)
        m.d.comb += self.rows_pending.eq(pending != 0)
        return m
