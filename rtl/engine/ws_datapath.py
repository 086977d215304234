"""The weight-stationary datapath of the GEMM engine: what :class:`~.engine.GemmEngine` builds
in place of the output-stationary feeder, array and writer when ``config.array.dataflow`` is
``"weight-stationary"``."""

from amaranth.hdl import Signal
from amaranth.lib import wiring

from ..ws_array import WSSystolicArray
from .ws_feeder import WSTileFeeder
from .ws_writer import WSResultWriter

__all__ = ["ws_datapath", "ws_connect"]


def ws_datapath(m, config):
    """Add the weight-stationary feeder, array and writer to ``m``; return them.

    The feeder and the writer have the output-stationary ones' memory ports, ``job``,
    ``start`` and ``busy``, so the engine wires the buffers to either alike.
    """
    m.submodules.feeder = feeder = WSTileFeeder(config)
    m.submodules.array = array = WSSystolicArray(config.array)
    m.submodules.writer = writer = WSResultWriter(config)
    return feeder, array, writer


def ws_connect(m, config, decoder, feeder, writer, drain, psum_read):
    """Wire the weight-stationary datapath's own signals; return the engine's busy flag.

    A pass writes the rows of its N tile in order of M, and only the last K tile's are
    results: the drain, which sends rows in the output-stationary engine's tile order, could
    not follow them as they are written. So a job that emits sends its results as a READ would,
    once its last row is written: ``send`` reaches the drain on the cycle after the engine has
    no array work left, with every row counted written. Until then the results are owed
    (``out_busy``), so that STATUS, READ and the next START wait for them.
    """
    wiring.connect(m, feeder.psum_read, psum_read)
    accepted = feeder.o_stream.valid & feeder.o_stream.ready
    busy = decoder.launch | feeder.busy | writer.rows_pending
    owed = Signal()               # the running job emits, and has not sent yet
    send = Signal()
    with m.If(owed & ~busy):
        m.d.sync += [owed.eq(0), send.eq(1)]
    with m.Else():
        m.d.sync += send.eq(0)
    with m.If(decoder.launch):
        m.d.sync += owed.eq(decoder.job.emit)
    m.d.comb += [
        writer.row_in.eq(accepted & feeder.o_stream.payload.row),
        writer.row_addr.eq(feeder.row_addr),
        # A START's send waits for the rows (above); a READ's goes straight through.
        drain.send.eq(send | (decoder.send & ~decoder.launch)),
        drain.written.eq(config.result_rows),
        drain.row_written.eq(0),
        decoder.out_busy.eq(drain.out_busy | owed | send),
    ]
    return busy
