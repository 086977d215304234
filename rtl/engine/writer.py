"""The result writer of the GEMM engine: array rows into the result buffer, accumulating."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .layouts import job_layout, result_read_signature, result_write_signature
from ..shapes import result_layout

__all__ = ["ResultWriter"]


class ResultWriter(wiring.Component):
    """Writes each result row of the array to the next row of the result buffer.

    Rows arrive in pass order, so row ``r`` of a job goes to address ``r`` (tile ``t`` row
    ``i`` at ``t * rows + i``, padding rows included). For an accumulating job the row is added
    to the one already there: the old row is read as the array delivers the new one (its
    address given a cycle ahead, on the array's ``row_next``, and registered beside the
    buffer's blocks) and the sum is written once the old row is there, ``buffer_latency``
    cycles later (and ``old_row_stages`` registers on). Non-accumulating jobs take the same
    path (the old value is ignored) so that every job writes a row exactly
    ``config.result_write_delay`` cycles after the array gives it (the writes going through
    ``result_write_stages`` registers).

    The sum wraps at ``acc_width``, which makes a K-chunked result the one-pass result. A
    saturating engine does not add here: its array continues each chunk from the partial sum
    of the chunks before (:class:`~.preloader.Preloader`), so that the accumulator
    clamps at every step of the whole K; the writer then writes the array's rows as they are,
    on the same cycles, and has no ``acc_read`` port.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    i_stream : In(stream.Signature(result_layout, always_ready=True))
        Result rows of the array.
    job : In(job_layout(config))
        The job; ``accumulate`` is read with every row.
    start : In(1)
        A job begins: rows go to address 0 again.
    pass_done : In(1)
        The array accepted the last beat of a pass (its rows are on their way).
    acc_read : In(ReadPort.Signature)
        Result buffer read port for the old rows (wrapping engines only), given the address a
        cycle ahead (an early read of :func:`~..lib.block_ram.buffer_memory`).
    row_next : In(1)
        A row arrives on the next cycle (wrapping engines only; the array's ``row_next``).
    c_write : In(WritePort.Signature)
        Result buffer write port; with ``result_write_stages`` an early one (given each write a
        cycle ahead, :func:`~..lib.block_ram.buffer_memory`), whose registers are the stage.
    written : Out(range(result_rows + 1))
        Rows of the job written so far (rows below it may be read).
    row_written : Out(1)
        A row is written on this cycle.
    rows_pending : Out(1)
        Some pass of the job has rows not yet written.
    """

    def __init__(self, config):
        self._config = config
        self._adds = config.array.overflow == "wrap"
        members = {
            "i_stream":     In(stream.Signature(result_layout(config.array), always_ready=True)),
            "job":          In(job_layout(config)),
            "start":        In(1),
            "pass_done":    In(1),
            "c_write":      In(result_write_signature(config)),
            "written":      Out(range(config.result_rows + 1)),
            "row_written":  Out(1),
            "rows_pending": Out(1),
        }
        if self._adds:
            members["acc_read"] = In(result_read_signature(config))
            members["row_next"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        config = self._config
        array = config.array
        row = self.i_stream

        if self._adds:
            # The address of the row arriving on the next cycle: the rows announced so far. A
            # job starts with the engine idle, long before its first row is announced.
            requested = Signal(range(config.result_rows + 1))
            m.d.comb += [self.acc_read.addr.eq(requested), self.acc_read.en.eq(1)]
            with m.If(self.row_next):
                m.d.sync += requested.eq(requested + 1)
            with m.If(self.start):
                m.d.sync += requested.eq(0)

        # The old row arrives ``buffer_latency`` cycles after its read, which is issued on the
        # cycle the new row arrives (and passes ``old_row_stages`` registers): the new row waits
        # as long in registers.
        old = self.acc_read.data if self._adds else None
        for stage in range(config.old_row_stages if self._adds else 0):
            old_d = Signal.like(old, name=f"old_row_{stage}")
            m.d.sync += old_d.eq(old)
            old = old_d
        row_d, valid_d = row.payload, row.valid
        for stage in range(config.buffer_latency + config.old_row_stages):
            staged = (Signal(result_layout(array), name=f"row_{stage}"),
                      Signal(name=f"row_valid_{stage}"))
            m.d.sync += [staged[0].eq(row_d), staged[1].eq(valid_d)]
            row_d, valid_d = staged
        # With ``result_write_stages`` the write follows that many cycles later. Rows are
        # written in order, so a row's address is the count of rows written before it.
        sums = Signal.like(self.c_write.data)
        for j in range(array.cols):
            new = row_d.data[j]
            if self._adds:
                new = Mux(self.job.accumulate, old[j] + new, new)
            m.d.comb += sums[j].eq(new)
        en, data, last = valid_d, sums, row_d.last
        if config.result_write_stages:
            # The write stage's registers are the buffer's own, beside its blocks (an early
            # write): it gets the row a cycle ahead, at the count of rows given it so far.
            given = Signal.like(self.written)
            m.d.comb += [self.c_write.en.eq(en), self.c_write.addr.eq(given),
                         self.c_write.data.eq(data)]
            with m.If(en):
                m.d.sync += given.eq(given + 1)
            with m.If(self.start):
                m.d.sync += given.eq(0)
            staged = Signal(name="write_en_0"), Signal(name="write_last_0")
            m.d.sync += [staged[0].eq(en), staged[1].eq(last)]
            en, last = staged
        else:
            m.d.comb += [self.c_write.en.eq(en), self.c_write.addr.eq(self.written),
                         self.c_write.data.eq(data)]
        m.d.comb += self.row_written.eq(en)
        with m.If(en):
            m.d.sync += self.written.eq(self.written + 1)

        # Passes between their last beat and their last row written. A pass spends
        # result_latency + rows + buffer_latency + result_write_stages cycles there and passes
        # are at least min_pass_spacing apart.
        span = array.result_latency + array.rows + config.result_write_delay
        in_flight = span // array.min_pass_spacing + 2
        pending = Signal(range(in_flight + 1))
        m.d.sync += pending.eq(pending + self.pass_done - (en & last))
        m.d.comb += self.rows_pending.eq(pending != 0)

        with m.If(self.start):
            m.d.sync += self.written.eq(0)

        return m
