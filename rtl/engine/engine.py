"""The GEMM engine: a systolic array with operand and result buffers and a command interface."""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring, stream
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..array import SystolicArray
from ..lib.block_ram import buffer_memory
from ..lib.buffer_port import buffer_attrs, buffer_read_port
from .config import EngineConfig
from .decoder import CommandDecoder, command_layout, connect_with_features
from .drain import ResultDrain
from .feeder import TileFeeder
from .layouts import (a_depth, a_word_layout, b_depth, b_word_layout,
                      result_beat_layout, result_row_layout, status_layout, word_shape)
from .preloader import Preloader
from .writer import ResultWriter
from .ws_datapath import ws_connect, ws_datapath
from ..lib.kept_register import kept_register
from ..lib.stream_register import StreamRegister

__all__ = ["GemmEngine"]


class GemmEngine(wiring.Component):
    """Computes ``A @ B`` for matrices held in on-chip RAM, walking output tiles over the array.

    **Operation.** The host loads A (M x K) and B (K x N) into one of two operand banks and
    starts a job on that bank. The engine runs one array pass per R x C output tile, tiles in
    row-major order, passes back to back (the array's pass spacing aside), so the array does
    useful work on every cycle of a job whose K is at least ``max(R, C)``. Result rows go to
    the result buffer, added to what is there for an accumulating job, and are streamed out
    while later tiles are computed. While a job runs, the host loads the next job's operands
    into the other bank (double buffering). A GEMM deeper than ``max_k`` is run as several
    jobs on the same result block: the first overwrites, the others accumulate, the last
    emits. :mod:`systolic.sim.engine_tiling` plans that, and blocks of M and N larger than the
    buffers; :mod:`systolic.sim.engine_model` gives the exact results and cycle counts.

    **Words and beats.** ``i_stream`` carries ``config.word_width``-bit words (32 bits for 8-bit
    operands; wider if an accumulator is), one a cycle, operands included: a LOAD writes a
    whole word of operands a cycle. ``o_stream`` carries a result row a beat
    (:func:`~.layouts.result_beat_layout`: up to ``cols`` words, each an accumulator
    sign-extended to a word, and their count), so results leave as fast as the array makes
    them whenever a pass is at least ``rows`` beats long; a status word is a beat of one word.
    A link that carries words sends a beat's words in order
    (:class:`~.beat_serializer.BeatSerializer`). Header and status layouts are in
    :mod:`~.protocol`: a header is ``0xC5 << 24 | flags << 8 | opcode``; arguments are
    plain unsigned words.

    ============  =============  ============  ==============================================
    opcode        flags          arguments     effect
    ============  =============  ============  ==============================================
    0x00 NOP      --             --            nothing
    0x01 LOAD_A   BANK (bit 8)   M, K          then A beat by beat: for each block of R rows,
                                               for each K step, the block's R operands, lane
                                               0 first, packed ``W // a_width`` a word into
                                               ``a_words_per_beat`` words (rows past M zero)
    0x02 LOAD_B   BANK           K, N          then B beat by beat likewise: for each block
                                               of C columns, for each K step, its C operands
                                               in ``b_words_per_beat`` words
    0x03 START    BANK, ACC      M, K, N       run the job on the bank; ACC (bit 9) adds to
                  (bit 9), EMIT                the result buffer; EMIT (bit 10) streams the
                  (bit 10)                     M*N results
    0x04 READ     --             --            stream the M*N results of the last job again
    0x05 STATUS   --             --            send one status word (after any results owed)
    0x06 CLEAR    --             --            clear the error flag and code
    ============  =============  ============  ==============================================

    Results leave in tile order: for ``ti`` in M-tiles, ``tj`` in N-tiles, the tile's rows
    inside M, a beat each, carrying the row's columns inside N.

    **Weight-stationary designs** (``config.array.dataflow``) build the weight-stationary
    array, feeder and writer instead (:mod:`~.ws_datapath`): per N tile, per K tile, a weight
    tile and the job's M rows of A with their partial sums from the result buffer. Everything
    above holds but two things: LOAD_A's data comes K-block-major (for each block of R columns
    of K, for each row of A, the row's R operands of the block, columns past K zero), and a job
    that emits sends its results once its last row is written, as a READ would
    (:class:`~.ws_feeder.WSTileFeeder` has the order and timing).

    **Ordering and waiting.** Commands run in order. A LOAD into the bank the running job is
    reading waits until the array has taken its last beat; START waits until the previous job
    has written its rows and sent its results; READ likewise; STATUS waits for the results
    owed. Words pass a register slice on their way to the decoder, which holds up to two of
    them, so the decoder sees each a cycle after ``i_stream`` takes it and ``i_stream`` takes
    up to two words beyond a command that waits. Waiting only delays ``i_stream.ready``;
    every wait ends on its own as long as the host takes the words of ``o_stream``.

    **Refusals.** A malformed header, a zero dimension or one beyond the buffers
    (``M > max_m``, ``K > max_k``, ``N > max_n``) is refused: the error flag and code are set
    (:class:`~.protocol.ErrorCode`), nothing runs, no data words are consumed and no
    results are sent. The decoder is then idle. A host that lost its place in a command sends
    ``config.resync_words`` NOPs, then CLEAR.

    Parameters
    ----------
    config : EngineConfig
    word_features : bool
        Take each word with its features (:func:`~.decoder.command_features`) worked out in
        front of the engine, on ``i_stream`` as :func:`~.decoder.command_layout`: in a slower
        clock before a clock crossing, say, so that no logic sits between the word's last
        register outside the engine and the one beside the decoder. The engine's behaviour
        and timing are the same either way.

    Members
    -------
    i_stream : In(stream.Signature(unsigned(word_width)))
        Command, argument and operand words (with their features, ``word_features`` given).
    o_stream : Out(stream.Signature(result_beat_layout(config)))
        Result rows and status words.
    status : Out(StructLayout({"busy": 1, "error": 1, "code": 4}))
        The status fields as pins (for LEDs).
    """

    def __init__(self, config, *, word_features=False):
        if not isinstance(config, EngineConfig):
            raise TypeError(f"GemmEngine needs an EngineConfig, got {type(config).__name__}")
        self._config = config
        self._word_features = word_features
        word = command_layout(config) if word_features else word_shape(config)
        super().__init__({
            "i_stream": In(stream.Signature(word)),
            "o_stream": Out(stream.Signature(result_beat_layout(config))),
            "status":   Out(status_layout()),
        })

    @property
    def config(self):
        """The :class:`EngineConfig` this engine was built from."""
        return self._config

    def elaborate(self, platform):
        m = Module()
        config = self._config

        m.submodules.decoder = decoder = CommandDecoder(config)
        ws = config.array.weight_stationary
        if ws:
            feeder, array, writer = ws_datapath(m, config)
        else:
            m.submodules.feeder = feeder = TileFeeder(config)
            # A saturating engine continues each K chunk in the array from the chunks before;
            # a wrapping one adds the chunks in the writer (the same result, no preload logic).
            preload = config.array.overflow == "saturate"
            m.submodules.array = array = SystolicArray(config.array, preload=preload)
            m.submodules.writer = writer = ResultWriter(config)
        m.submodules.drain = drain = ResultDrain(config)

        attrs = buffer_attrs(config.buffer_ram)
        latency = config.buffer_latency
        # The writer (or the preloader) reads a row before its new value is written (the next
        # read is of the next row); the drain reads only rows already written.
        # The writer reads the old rows at an address it knows a cycle ahead (the array tells
        # it of a row a cycle early), registered beside each block of the buffer; the drain's
        # address is registered there too, a cycle later (``drain_address_stages``).
        adds_in_writer = not ws and config.array.overflow == "wrap"
        early_reads = (0,) * adds_in_writer + (1,) * config.drain_address_stages
        c_write, (old_read, drain_read) = buffer_memory(
            m, platform, name="c_mem", layout=result_row_layout(config), depth=config.result_rows,
            latency=latency, attrs=attrs, read_ports=2, early_reads=early_reads,
            early_write=not ws and config.result_write_stages == 1)

        # The words reach the decoder through a register slice that carries each word's
        # features beside it (``command_features``): the decoder's choices then start at
        # flip-flops, and ``i_stream.ready`` is one.
        m.submodules.command_register = command_register = StreamRegister(command_layout(config))
        incoming = command_register.i_stream
        if self._word_features:
            wiring.connect(m, wiring.flipped(self.i_stream), incoming)
        else:
            connect_with_features(m, config, self.i_stream, incoming)
        wiring.connect(m, command_register.o_stream, decoder.i_stream)
        operands = (("a", a_word_layout(config), a_depth(config), decoder.a_write, feeder.a_read),
                    ("b", b_word_layout(config), b_depth(config), decoder.b_write, feeder.b_read))
        # The loader never writes the bank the feeder reads: a LOAD into it waits for the job's
        # last beat (see the class docstring), so reads need no old-word rule (buffer_read_port).
        for name, layout, depth, source, sink in operands:
            if config.buffer_ram == "block":
                write, (read,) = buffer_memory(m, platform, name=f"{name}_mem", layout=layout,
                                               depth=depth, latency=latency, attrs=attrs,
                                               lane_enables=True)
                wiring.connect(m, source, write)
                wiring.connect(m, sink, read)
                continue
            # Distributed RAM: a memory a lane, read at the feeder's copy of the address for
            # that lane, so that no address net spreads over the whole buffer. Two register
            # stages in front of the write ports (the second with a copy of the address for each
            # lane) carry the loader's writes to memories anywhere on the die; a write lands two
            # cycles late, still long before the feeder can read it (a START takes four words
            # after the LOAD's last one).
            lane_addr = getattr(feeder, f"{name}_lane_addr")
            write_addr = Signal.like(source.addr)
            write_data = Signal.like(source.data)
            write_en = Signal.like(source.en)
            m.d.sync += [write_addr.eq(source.addr), write_data.eq(source.data),
                         write_en.eq(source.en)]
            for lane in range(layout.length):
                memory = Memory(shape=layout.elem_shape, depth=depth, init=[], attrs=attrs)
                m.submodules[f"{name}_mem_{lane}"] = memory
                write, read = memory.write_port(), buffer_read_port(m, memory, latency)
                lane_write_addr = Signal.like(write_addr, name=f"{name}_write_addr_lane{lane}")
                kept_register(m, platform, lane_write_addr, write_addr)
                m.d.sync += [write.data.eq(write_data[lane]), write.en.eq(write_en[lane])]
                m.d.comb += [write.addr.eq(lane_write_addr), read.addr.eq(lane_addr[lane]),
                             read.en.eq(sink.en), sink.data[lane].eq(read.data)]
        wiring.connect(m, feeder.o_stream, array.i_stream)
        wiring.connect(m, array.o_stream, writer.i_stream)
        wiring.connect(m, writer.c_write, c_write)

        def launch_copy(user):
            # The launch clears registers of each of its users all over the die, and Yosys
            # joins a clear with the reset in a LUT: each user gets its own copy of the launch
            # register, so that the LUT and the copy sit by the registers they clear.
            copy = Signal(name=f"launch_{user}")
            kept_register(m, platform, copy, decoder.launch_next)
            return copy

        if ws:
            busy = ws_connect(m, config, decoder, feeder, writer, drain, old_read)
        elif preload:
            m.submodules.preloader = preloader = Preloader(config)
            wiring.connect(m, preloader.read, old_read)
            m.d.comb += array.init.eq(preloader.init)
            m.d.comb += [preloader.job.eq(decoder.job),
                         preloader.start.eq(launch_copy("preloader")),
                         preloader.pass_issue.eq(feeder.pass_issue)]
        else:
            wiring.connect(m, writer.acc_read, old_read)
            m.d.comb += writer.row_next.eq(array.row_next)
        wiring.connect(m, drain.drain_read, drain_read)
        wiring.connect(m, drain.o_stream, wiring.flipped(self.o_stream))

        if not ws:
            busy = decoder.launch | feeder.busy | writer.rows_pending
            m.d.comb += [
                writer.job.eq(decoder.job),
                writer.start.eq(launch_copy("writer")),
                writer.pass_done.eq(feeder.pass_done),
                drain.send.eq(decoder.send),
                drain.written.eq(writer.written),
                drain.row_written.eq(writer.row_written),
                decoder.out_busy.eq(drain.out_busy),
            ]
        m.d.comb += [
            feeder.job.eq(decoder.job),
            feeder.start.eq(launch_copy("feeder")),
            drain.job.eq(decoder.job),
            drain.start.eq(launch_copy("drain")),
            drain.status_req.eq(decoder.status_req),
            drain.status_word.eq(decoder.status_word),
            decoder.feeder_busy.eq(feeder.busy),
            decoder.busy.eq(busy),
            self.status.busy.eq(busy),
            self.status.error.eq(decoder.error),
            self.status.code.eq(decoder.code),
        ]
        return m
