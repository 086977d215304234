"""The executing part of the protocol bridge: one checked request in, one reply out."""

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import wiring, stream
from amaranth.lib.wiring import In, Out

from .layouts import (FrameStatus, buffer_read_signature, buffer_write_signature,
                      frame_layout, reply_layout)
from ..protocol import ErrorCode, Kind

__all__ = ["RequestExecutor"]


class RequestExecutor(wiring.Component):
    """Executes the requests the receiver hands over and asks the sender for their replies.

    A frame is only looked at when the sender is idle, since executing an INFO or a READ
    rewrites the reply buffer it sends from. Then, in this order:

    * a ``TOO_LONG`` or ``BAD_CRC`` frame gets ERROR with that code;
    * a repeat of the last executed request (same SEQ and same CRC, so the same bytes) gets
      the reply sent for it again, from the reply buffer, without executing anything;
    * PING (empty) gets ACK; INFO (empty) gets INFO with ``info``, copied into the reply
      buffer; WRITE (whole words) sends its words to ``cmd`` and gets ACK once the last one
      is taken, or ERROR(STALLED) once ``cmd`` took none for ``timeout_cycles`` cycles (the
      rest of the payload is dropped); READ (a count of at most ``max_payload // word_bytes``) takes up to that many
      words from ``rsp`` into the reply buffer and gets DATA once it has them all or
      ``timeout_cycles`` cycles passed without a word;
    * a payload that does not fit the kind gets ERROR(BAD_LENGTH), an unknown kind
      ERROR(BAD_KIND).

    ERROR replies are inline (they leave the reply buffer alone) and are not remembered, so
    a later repeat of the last executed request is still answered from the buffer. The frame
    is released to the receiver when its reply is handed to the sender.

    Parameters
    ----------
    word_width : int
        Bits of an engine word.
    max_payload : int
        Size of the payload and reply buffers.
    timeout_cycles : int
        Cycles a READ waits for each engine word.
    info : bytes
        Payload of the INFO reply (at most ``max_payload`` bytes).

    Members
    -------
    frame : In(stream.Signature(frame_layout()))
        Frames from the receiver.
    payload_read : In(buffer_read_signature(max_payload))
        Read port of the payload buffer (WRITE words).
    reply_write : In(buffer_write_signature(max_payload))
        Write port of the reply buffer (INFO and READ payloads).
    reply : Out(stream.Signature(reply_layout()))
        Replies for the sender.
    sender_busy : In(1)
        The sender is sending a reply.
    cmd : Out(stream.Signature(word_width))
        Words to the engine.
    rsp : In(stream.Signature(word_width))
        Words from the engine.
    busy : Out(1)
        A request is being executed or its reply handed over.
    """

    def __init__(self, *, word_width, max_payload, timeout_cycles, info):
        self._word_width = word_width
        self._word_bytes = (word_width + 7) // 8
        self._max_payload = max_payload
        self._timeout_cycles = timeout_cycles
        self._info = bytes(info)
        if not 0 < len(self._info) <= max_payload:
            raise ValueError(f"INFO payload of {len(self._info)} bytes does not fit "
                             f"max_payload={max_payload}")
        super().__init__({
            "frame":        In(stream.Signature(frame_layout())),
            "payload_read": In(buffer_read_signature(max_payload)),
            "reply_write":  In(buffer_write_signature(max_payload)),
            "reply":        Out(stream.Signature(reply_layout())),
            "sender_busy":  In(1),
            "cmd":          Out(stream.Signature(unsigned(word_width))),
            "rsp":          In(stream.Signature(unsigned(word_width))),
            "busy":         Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        word_bytes = self._word_bytes
        frame = self.frame.payload

        # The reply being prepared; ``remember`` makes it the cached reply once handed over.
        # Payload lengths and word counts never exceed the buffer: narrower than LEN's 16 bits.
        kind = Signal(8)
        length = Signal(range(self._max_payload + 1))
        inline = Signal()
        code = Signal(8)
        remember = Signal()

        # The last executed request and its reply (the reply buffer holds its payload). Only
        # executing a new request rewrites the buffer, and every execution ends in handing
        # over its reply, which then becomes the cached one: the two never disagree.
        cached = Signal()
        cached_seq = Signal(8)
        cached_crc = Signal(16)
        cached_kind = Signal(8)
        cached_length = Signal(range(self._max_payload + 1))

        index = Signal(range(self._max_payload + 1))     # byte in the payload / reply buffer
        byte = Signal(range(word_bytes))                 # byte within the current word
        word = Signal(8 * word_bytes)
        max_words = self._max_payload // word_bytes
        words = Signal(range(max_words + 1))             # words a READ took so far
        timer = Signal(range(self._timeout_cycles + 1))
        info = Const(int.from_bytes(self._info, "little"), 8 * len(self._info))

        def error(error_code):
            m.d.sync += [kind.eq(Kind.ERROR), length.eq(1), inline.eq(1), code.eq(error_code),
                         remember.eq(0)]
            m.next = "REPLY"

        def answer(reply_kind, reply_length):
            m.d.sync += [kind.eq(reply_kind), length.eq(reply_length), inline.eq(0),
                         remember.eq(1)]
            m.next = "REPLY"

        repeat = Signal()
        m.d.comb += repeat.eq(cached & (frame.seq == cached_seq) & (frame.crc == cached_crc))

        m.d.comb += self.payload_read.addr.eq(index)

        with m.FSM(name="exec_fsm") as fsm:
            with m.State("IDLE"):
                with m.If(self.frame.valid & ~self.sender_busy):
                    m.d.sync += [index.eq(0), byte.eq(0), words.eq(0), timer.eq(0)]
                    with m.If(frame.status == FrameStatus.TOO_LONG):
                        error(ErrorCode.TOO_LONG)
                    with m.Elif(frame.status == FrameStatus.BAD_CRC):
                        error(ErrorCode.BAD_CRC)
                    with m.Elif(repeat):
                        m.d.sync += [kind.eq(cached_kind), length.eq(cached_length),
                                     inline.eq(0), remember.eq(0)]
                        m.next = "REPLY"
                    with m.Elif(frame.kind == Kind.PING):
                        with m.If(frame.length == 0):
                            answer(Kind.ACK, 0)
                        with m.Else():
                            error(ErrorCode.BAD_LENGTH)
                    with m.Elif(frame.kind == Kind.INFO):
                        with m.If(frame.length == 0):
                            m.next = "INFO"
                        with m.Else():
                            error(ErrorCode.BAD_LENGTH)
                    with m.Elif(frame.kind == Kind.WRITE):
                        with m.If(~frame.whole_words):
                            error(ErrorCode.BAD_LENGTH)
                        with m.Elif(frame.length == 0):
                            answer(Kind.ACK, 0)
                        with m.Else():
                            m.next = "WRITE_ADDR"
                    with m.Elif(frame.kind == Kind.READ):
                        with m.If((frame.length == 2) & (frame.arg <= max_words)):
                            m.next = "READ_WAIT"
                        with m.Else():
                            error(ErrorCode.BAD_LENGTH)
                    with m.Else():
                        error(ErrorCode.BAD_KIND)

            with m.State("INFO"):
                m.d.comb += [
                    self.reply_write.en.eq(1),
                    self.reply_write.addr.eq(index),
                    self.reply_write.data.eq(info.word_select(index, 8)),
                ]
                m.d.sync += index.eq(index + 1)
                with m.If(index == len(self._info) - 1):
                    answer(Kind.INFO_REPLY, len(self._info))

            # WRITE: two cycles a byte (address, then data), far faster than any link. The
            # address is ``index`` in every state (read data is used only here), so that it
            # comes straight from flip-flops.
            with m.State("WRITE_ADDR"):
                m.next = "WRITE_BYTE"
            with m.State("WRITE_BYTE"):
                # Little-endian: each byte enters at the top and moves down.
                m.d.sync += [word.eq(Cat(word[8:], self.payload_read.data)), index.eq(index + 1)]
                with m.If(byte == word_bytes - 1):
                    m.d.sync += byte.eq(0)
                    m.next = "WRITE_WORD"
                with m.Else():
                    m.d.sync += byte.eq(byte + 1)
                    m.next = "WRITE_ADDR"
            with m.State("WRITE_WORD"):
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(word)]
                with m.If(self.cmd.ready):
                    m.d.sync += timer.eq(0)
                    with m.If(index == frame.length):
                        answer(Kind.ACK, 0)
                    with m.Else():
                        m.next = "WRITE_ADDR"
                with m.Elif(timer == self._timeout_cycles):
                    # The engine waits for something only the host can do (read the results
                    # it owes before it takes a START): say so rather than wait forever.
                    error(ErrorCode.STALLED)
                with m.Else():
                    m.d.sync += timer.eq(timer + 1)

            with m.State("READ_WAIT"):
                with m.If((words == frame.arg) | (timer == self._timeout_cycles)):
                    answer(Kind.DATA, index)
                with m.Else():
                    m.d.comb += self.rsp.ready.eq(1)
                    with m.If(self.rsp.valid):
                        m.d.sync += [word.eq(self.rsp.payload), words.eq(words + 1),
                                     timer.eq(0)]
                        m.next = "READ_BYTE"
                    with m.Else():
                        m.d.sync += timer.eq(timer + 1)
            with m.State("READ_BYTE"):
                m.d.comb += [
                    self.reply_write.en.eq(1),
                    self.reply_write.addr.eq(index),
                    self.reply_write.data.eq(word[:8]),
                ]
                m.d.sync += [word.eq(word[8:]), index.eq(index + 1)]
                with m.If(byte == word_bytes - 1):
                    m.d.sync += byte.eq(0)
                    m.next = "READ_WAIT"
                with m.Else():
                    m.d.sync += byte.eq(byte + 1)

            with m.State("REPLY"):
                m.d.comb += [
                    self.reply.valid.eq(1),
                    self.reply.payload.kind.eq(kind),
                    self.reply.payload.seq.eq(frame.seq),
                    self.reply.payload.length.eq(length),
                    self.reply.payload.inline.eq(inline),
                    self.reply.payload.code.eq(code),
                ]
                with m.If(self.reply.ready):
                    m.d.comb += self.frame.ready.eq(1)
                    with m.If(remember):
                        m.d.sync += [cached.eq(1), cached_seq.eq(frame.seq),
                                     cached_crc.eq(frame.crc), cached_kind.eq(kind),
                                     cached_length.eq(length)]
                    m.next = "IDLE"

        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        return m
