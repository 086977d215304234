"""The preloader of a saturating GEMM engine: the partial sums each pass of a K chunk starts from."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .layouts import job_layout, result_read_signature
from ..shapes import init_layout

__all__ = ["Preloader"]


class Preloader(wiring.Component):
    """Reads the rows a pass of an accumulating job continues from, for the array's ``init``.

    A saturating accumulator clamps at every step, so a K-chunked dot product equals one pass
    over the whole K only if each chunk's pass continues from the partial sum the chunks before
    it left, rather than starting from zero and adding to that sum once. The engine's array
    preloads its PEs (:class:`~systolic.rtl.array.SystolicArray` with ``preload``), and this component gives
    it, for every pass, the pass's tile rows from the result buffer (zero for a job that does
    not accumulate): pass ``p`` of a job owns result rows ``p*R .. p*R + R - 1``, as the writer
    writes them. Row ``i`` reaches the array ``accumulate_delay + i - 1`` cycles after the
    pass's first beat is accepted, the last cycle before the first PE of that row needs it;
    passes are at least ``max(R, C)`` beats apart, so the rows of one pass are read before the
    next pass's and each row's values outlive its last PE's first step.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    job : In(job_layout(config))
        The job (``accumulate`` read on every pass).
    start : In(1)
        A job begins: its first pass owns rows from 0.
    pass_issue : In(1)
        The feeder issues a pass's first beat (the array takes it ``buffer_latency +
        read_address_stages`` cycles later).
    read : In(ReadPort.Signature)
        Result buffer read port (``buffer_latency`` cycles from address to data).
    init : Out(init_layout(array))
        To the array's ``init``.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "job":        In(job_layout(config)),
            "start":      In(1),
            "pass_issue": In(1),
            "read":       In(result_read_signature(config)),
            "init":       Out(init_layout(config.array)),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        array = config.array
        rows = array.rows
        latency = config.buffer_latency
        # The first row is read when it will arrive on the cycle before PE (0, 0)'s first step:
        # the beat is accepted ``latency + read_address_stages`` cycles after its issue, the
        # step comes ``accumulate_delay`` after that, and the read takes ``latency``.
        lead = config.read_address_stages + array.accumulate_delay - 1
        go = self.pass_issue
        for stage in range(lead):
            delayed = Signal(name=f"go_{stage}")
            m.d.sync += delayed.eq(go)
            go = delayed

        reading = Signal()
        row = Signal(range(max(rows, 2)))
        base = Signal(range(config.result_rows + rows + 1))
        m.d.comb += [self.read.addr.eq(base + row), self.read.en.eq(1)]
        with m.If(go):
            # Row 0 now (``row`` is 0 between passes), the others on the next cycles.
            if rows == 1:
                m.d.sync += base.eq(base + 1)
            else:
                m.d.sync += [reading.eq(1), row.eq(1)]
        with m.Elif(reading):
            with m.If(row == rows - 1):
                m.d.sync += [reading.eq(0), row.eq(0), base.eq(base + rows)]
            with m.Else():
                m.d.sync += row.eq(row + 1)
        with m.If(self.start):
            m.d.sync += [base.eq(0), row.eq(0), reading.eq(0)]

        # The row read on a cycle arrives ``latency`` cycles later, with its index.
        valid, index = go | reading, Mux(go, 0, row)
        for stage in range(latency):
            staged = Signal(name=f"init_valid_{stage}"), Signal.like(row, name=f"init_row_{stage}")
            m.d.sync += [staged[0].eq(valid), staged[1].eq(index)]
            valid, index = staged
        m.d.comb += [self.init.valid.eq(valid), self.init.row.eq(index)]
        for j in range(array.cols):
            m.d.comb += self.init.data[j].eq(Mux(self.job.accumulate, self.read.data[j], 0))
        return m
