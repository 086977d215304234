"""The command decoder of the GEMM engine: parses command words, runs and refuses commands."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring, stream
from amaranth.lib.wiring import In, Out

from .layouts import a_write_signature, b_write_signature, job_layout, word_shape
from .loader import OperandLoader
from .protocol import (ALLOWED_FLAGS, MAGIC, ErrorCode, Opcode, OPCODE_BITS, FLAG_BITS,
                       RESERVED_BITS, MAGIC_BITS, HEADER_BITS, STATUS_BUSY_BIT,
                       STATUS_ERROR_BIT, STATUS_CODE_BITS, STATUS_JOBS_BITS)

__all__ = ["command_layout", "command_features", "CommandDecoder"]


def _bits(value, field):
    offset, width = field
    return value[offset:offset + width]


#: What the decoder decides on about a word, whatever the word turns out to be: as a header
#: (``header_ok``: magic and reserved bits; ``known``: the opcode; ``flags_ok``: the flags it
#: takes; what the opcode is) and as an argument (zero; larger than each buffer limit).
_FEATURES = data.StructLayout({
    "header_ok": 1, "known": 1, "flags_ok": 1,
    "with_args": 1, "read": 1, "status": 1, "clear": 1,
    "zero": 1, "big_m": 1, "big_k": 1, "big_n": 1,
})


def command_layout(config):
    """A word of the command stream and its :func:`command_features`."""
    return data.StructLayout({"word": word_shape(config), "features": _FEATURES})


def connect_with_features(m, config, words, commands):
    """Pass the stream ``words`` on as ``commands``, each word with its
    :func:`command_features` (a :func:`command_layout` stream).

    Parameters
    ----------
    m : Module
    config : EngineConfig
    words : stream interface
        Its ``valid`` and ``payload`` (a word) are read, its ``ready`` driven.
    commands : stream interface
        Its ``valid`` and ``payload`` are driven, its ``ready`` read.
    """
    m.d.comb += [
        commands.valid.eq(words.valid),
        commands.payload.word.eq(words.payload),
        commands.payload.features.eq(command_features(m, config, words.payload)),
        words.ready.eq(commands.ready),
    ]


def command_features(m, config, word):
    """Add to ``m`` the features of ``word`` as the decoder sees them; return them.

    They are worked out from the word alone, in front of the register that hands the word to
    the decoder, so that the decoder's state waits on flip-flops rather than on comparisons
    across the word.

    Parameters
    ----------
    m : Module
    config : EngineConfig
    word : Value
        A word of the command stream.

    Returns
    -------
    View of the features layout (a member of :func:`command_layout`).
    """
    features = Signal(_FEATURES)
    header_ok = (_bits(word, RESERVED_BITS) == 0) & (_bits(word, MAGIC_BITS) == MAGIC)
    if config.word_width > HEADER_BITS:
        header_ok = header_ok & (word[HEADER_BITS:] == 0)
    opcode = _bits(word, OPCODE_BITS)
    flags = _bits(word, FLAG_BITS)
    # Flags each opcode takes; an unknown opcode is refused before its flags matter.
    with m.Switch(opcode):
        for code, mask in ALLOWED_FLAGS.items():
            with m.Case(code):
                m.d.comb += [features.known.eq(1),
                             features.flags_ok.eq((flags & (0xFF & ~int(mask))) == 0)]
    # The high bits of the word alone tell most of "too big"; comparing only the low ones
    # with each limit keeps a word-wide carry chain off the comparisons.
    limit_bits = max(config.max_m, config.max_k, config.max_n).bit_length()
    high = word[limit_bits:].any()
    m.d.comb += [
        features.header_ok.eq(header_ok),
        features.with_args.eq((opcode == Opcode.LOAD_A) | (opcode == Opcode.LOAD_B)
                              | (opcode == Opcode.START)),
        features.read.eq(opcode == Opcode.READ),
        features.status.eq(opcode == Opcode.STATUS),
        features.clear.eq(opcode == Opcode.CLEAR),
        features.zero.eq(word == 0),
        features.big_m.eq(high | (word[:limit_bits] > config.max_m)),
        features.big_k.eq(high | (word[:limit_bits] > config.max_k)),
        features.big_n.eq(high | (word[:limit_bits] > config.max_n)),
    ]
    return features


class CommandDecoder(wiring.Component):
    """Reads command words from ``i_stream``, one command at a time, in order.

    See :class:`~.engine.GemmEngine` for the command set. A refused command sets ``error`` and
    ``code`` and consumes only the words read until the refusal (its header, or its arguments:
    a shape is refused on the cycle after its last argument), so the decoder is back in its
    idle state for the next word. The data words of a LOAD go to
    its :class:`~.loader.OperandLoader`, which writes the operand memories.

    Parameters
    ----------
    config : EngineConfig

    Members
    -------
    i_stream : In(stream.Signature(command_layout(config)))
        Command, argument and data words, each with its :func:`command_features`.
    a_write, b_write : In(WritePort.Signature)
        Operand memory write ports (both banks; the bank is the top address half).
    feeder_busy : In(1)
        The feeder is reading the bank of ``job``: loads into that bank wait.
    busy : In(1)
        Array work is in flight (feeding or rows not yet written): START and READ wait.
    out_busy : In(1)
        Result or status words are owed on the output: START, READ and STATUS wait.
    job : Out(job_layout(config))
        The job last launched (latched at launch, kept until the next).
    launch : Out(1)
        High for one cycle after ``job`` was latched: start it.
    launch_next : Out(1)
        ``launch`` of the next cycle, so that its users can keep copies of it beside them.
    send : Out(1)
        The drain sends the results of ``job``: high for one cycle with ``launch`` if
        ``job.emit``, and after the decoder took a READ (a register, like ``launch``, so that
        the busy checks, and the choice between the two, stay off the drain's paths).
    status_req, status_word : Out(1), Out(word)
        Send ``status_word`` (a pulse with the word; a register, so that the decoder's state
        does not reach the drain's output queue through it).
    error, code : Out(1), Out(4)
        Sticky error flag and the code of the latest refusal.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "i_stream":    In(stream.Signature(command_layout(config))),
            "a_write":     In(a_write_signature(config)),
            "b_write":     In(b_write_signature(config)),
            "feeder_busy": In(1),
            "busy":        In(1),
            "out_busy":    In(1),
            "job":         Out(job_layout(config)),
            "launch":      Out(1),
            "launch_next": Out(1),
            "send":        Out(1),
            "status_req":  Out(1),
            "status_word": Out(word_shape(config)),
            "error":       Out(1),
            "code":        Out(4),
        })

    def elaborate(self, platform):
        m = Module()
        config = self._config
        word = self.i_stream.payload.word
        features = self.i_stream.payload.features
        opcode = _bits(word, OPCODE_BITS)
        flags = _bits(word, FLAG_BITS)

        jobs = Signal(8)
        have_result = Signal()
        m.d.comb += self.status_word.eq(
            (self.busy << STATUS_BUSY_BIT) | (self.error << STATUS_ERROR_BIT)
            | (self.code << STATUS_CODE_BITS[0]) | (jobs << STATUS_JOBS_BITS[0])
            | (MAGIC << MAGIC_BITS[0]))

        def refuse(code):
            m.d.sync += [self.error.eq(1), self.code.eq(code)]

        # The command being read: its opcode, flags and arguments so far.
        op = Signal(range(len(Opcode)))
        bank = Signal()
        accumulate = Signal()
        emit = Signal()
        index = Signal(range(3))
        m_arg = Signal(range(config.max_m + 1))
        k_arg = Signal(range(config.max_k + 1))
        n_arg = Signal(range(config.max_n + 1))
        zero_seen = Signal()
        big_seen = Signal()
        # The LOAD's bank is the job's (see ``load_open`` below).
        same_bank = Signal()
        load_open = Signal()
        # In LAUNCH with a good shape (see ARGS).
        launch_ready = Signal()

        # Which dimension the argument word in hand is (see ARGUMENTS in engine_protocol).
        is_m = Signal()
        is_k = Signal()
        is_n = Signal()
        last_arg = Signal()
        m.d.comb += [
            is_m.eq(((op == Opcode.LOAD_A) | (op == Opcode.START)) & (index == 0)),
            is_k.eq((((op == Opcode.LOAD_A) | (op == Opcode.START)) & (index == 1))
                    | ((op == Opcode.LOAD_B) & (index == 0))),
            is_n.eq(((op == Opcode.LOAD_B) & (index == 1)) | ((op == Opcode.START) & (index == 2))),
            last_arg.eq(Mux(op == Opcode.START, index == 2, index == 1)),
        ]
        arg_zero = features.zero
        arg_big = Mux(is_m, features.big_m, Mux(is_k, features.big_k, features.big_n))

        # Data words of a LOAD go to the loader; the decoder waits in LOAD until it is done.
        m.submodules.loader = loader = OperandLoader(config)
        wiring.connect(m, loader.a_write, wiring.flipped(self.a_write))
        wiring.connect(m, loader.b_write, wiring.flipped(self.b_write))
        m.d.comb += [
            loader.target_b.eq(op == Opcode.LOAD_B),
            loader.bank.eq(bank),
            loader.m.eq(Mux(is_m, word, m_arg)),
            loader.k.eq(Mux(is_k, word, k_arg)),
            loader.n.eq(Mux(is_n, word, n_arg)),
            loader.i_stream.payload.eq(word),
        ]
        # The command register's ``ready`` spreads to the clock enables of its words, and the
        # LOAD's data words go from there to the operand buffers all over the die: in LOAD that
        # ``ready`` and the loader's take are a gate or two on flip-flops. The banks compared
        # are those of the cycle before, which hold still from the header of a LOAD to its end
        # (a launch comes only from LAUNCH).
        m.d.sync += [same_bank.eq(self.job.bank == bank), load_open.eq(0)]
        # The loader waits on a register too, a cycle behind the feeder: the feeder's
        # ``busy`` would otherwise start a path through the handshake and the loader's
        # ``done`` to the state's enables. During a LOAD the feeder only ever frees the bank
        # (a launch comes only from LAUNCH), so the copy is late only in letting words in.
        m.d.sync += loader.bank_busy.eq(self.feeder_busy & same_bank)

        m.d.sync += [self.launch.eq(self.launch_next), self.send.eq(0), self.status_req.eq(0)]

        # START and READ wait on ``idle``, STATUS on ``status_req``: ``busy`` and ``out_busy``
        # of the cycle before, kept in flip-flops so that no path runs from the engine's state
        # through the wait to the decoder's registers. A command is taken on the cycle after
        # the engine frees. Nothing the decoder starts is missed: its launch counts as busy,
        # and ``send`` counts as owing words, on the cycle after it acts, before it can wait
        # again.
        nothing_owed = ~self.out_busy & ~self.send
        idle = Signal()
        m.d.sync += idle.eq(nothing_owed & ~self.busy)

        # A zero or too big argument, of the arguments taken so far, and the refusal it gets.
        bad_args = zero_seen | big_seen
        bad_args_code = Mux(zero_seen, ErrorCode.ZERO_SHAPE, ErrorCode.TOO_BIG)

        with m.FSM() as fsm:
            with m.State("IDLE"):
                # The command's fields are kept whatever the word is: only ARGS reads them,
                # after a good header. (Waiting on the header's checks would put them in front
                # of every one of these registers.)
                m.d.sync += [
                    op.eq(opcode),
                    bank.eq(flags[0]),
                    accumulate.eq(flags[1]),
                    emit.eq(flags[2]),
                    index.eq(0),
                    zero_seen.eq(0),
                    big_seen.eq(0),
                ]
                with m.If(self.i_stream.valid):
                    with m.If(~features.header_ok):
                        refuse(ErrorCode.BAD_HEADER)
                    with m.Elif(~features.known):
                        refuse(ErrorCode.BAD_OPCODE)
                    with m.Elif(~features.flags_ok):
                        refuse(ErrorCode.BAD_HEADER)
                    with m.Elif(features.with_args):
                        m.next = "ARGS"
                    with m.Elif(features.read):
                        with m.If(have_result):
                            m.next = "READ"
                        with m.Else():
                            refuse(ErrorCode.NO_RESULT)
                    with m.Elif(features.status):
                        m.d.sync += self.status_req.eq(nothing_owed)
                        m.next = "STATUS"
                    with m.Elif(features.clear):
                        m.d.sync += [self.error.eq(0), self.code.eq(0)]
                    # NOP: nothing to do.

            with m.State("ARGS"):
                with m.If(self.i_stream.valid):
                    with m.If(is_m):
                        m.d.sync += m_arg.eq(word)
                    with m.If(is_k):
                        m.d.sync += k_arg.eq(word)
                    with m.If(is_n):
                        m.d.sync += n_arg.eq(word)
                    m.d.sync += [
                        zero_seen.eq(zero_seen | arg_zero),
                        big_seen.eq(big_seen | arg_big),
                        index.eq(index + 1),
                    ]
                    # The shape is checked on the next cycle, in LOAD or LAUNCH, from the flags
                    # kept here: the argument checks then end at those flags' registers.
                    with m.If(last_arg):
                        with m.If(op != Opcode.START):
                            # The loader reads the shape including the argument in hand. A
                            # refused LOAD leaves it set up but idle, as it only takes words in
                            # the LOAD state, and only with a good shape.
                            m.d.comb += loader.setup.eq(1)
                            m.next = "LOAD"
                        with m.Else():
                            # A START's shape is judged here, into a flag that LAUNCH waits
                            # on: the launch is then a gate on two flip-flops.
                            m.d.sync += launch_ready.eq(
                                ~(zero_seen | arg_zero | big_seen | arg_big))
                            m.next = "LAUNCH"

            with m.State("LOAD"):
                # The loader takes no word on the first cycle here (its ``fresh`` cycle), the
                # only one a bad shape is refused on, so ``load_open`` (below) is set from the
                # second.
                with m.If(bad_args):
                    refuse(bad_args_code)
                    m.next = "IDLE"
                with m.Elif(loader.done):
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += load_open.eq(1)

            with m.State("LAUNCH"):
                with m.If(~launch_ready):
                    refuse(bad_args_code)
                    m.next = "IDLE"
                with m.Elif(idle):
                    m.next = "IDLE"

            with m.State("READ"):
                with m.If(idle):
                    m.d.sync += self.send.eq(1)
                    m.next = "IDLE"

            with m.State("STATUS"):
                # ``status_req`` is set on a cycle the state is STATUS and nothing was owed on
                # the cycle before: worked out on that cycle, a register.
                with m.If(self.status_req):
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += self.status_req.eq(nothing_owed)

        # ``launch_ready`` is set only on the way into LAUNCH, so with ``idle`` it is the launch.
        m.d.comb += self.launch_next.eq(launch_ready & idle)
        with m.If(self.launch_next):
            m.d.sync += [
                self.job.m.eq(m_arg),
                self.job.k.eq(k_arg),
                self.job.n.eq(n_arg),
                self.job.m_over.eq(m_arg > config.array.rows),
                self.job.n_over.eq(n_arg > config.array.cols),
                self.job.bank.eq(bank),
                self.job.accumulate.eq(accumulate),
                self.job.emit.eq(emit),
                self.send.eq(emit),
                jobs.eq(jobs + 1),
                have_result.eq(1),
                launch_ready.eq(0),
            ]

        # IDLE and ARGS are always ready, so a word is taken whenever one is valid; testing
        # ``valid`` alone there keeps the loader's ready off the paths to their registers. In
        # LOAD the handshake waits on ``load_open`` and the bank alone, not on the shape check
        # nor on the state: ``load_open`` is LOAD past its first cycle.
        m.d.comb += [
            self.i_stream.ready.eq(fsm.ongoing("IDLE") | fsm.ongoing("ARGS")
                                   | (load_open & ~loader.bank_busy)),
            loader.i_stream.valid.eq(self.i_stream.valid & load_open),
        ]
        return m
