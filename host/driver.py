"""Run GEMMs on a board from Python: ``Accelerator.open(port).matmul(A, B)``.

::

    from systolic.host import Accelerator

    with Accelerator.open("/dev/ttyUSB1") as acc:      # a board on a UART
        c = acc.matmul(a, b)
    with Accelerator.virtual() as acc:                 # the same gateware in Verilator
        c = acc.matmul(a, b)

The driver learns the design from the board (INFO), splits GEMMs larger than the engine's
buffers into jobs (:mod:`systolic.sim.engine_tiling`), keeps operands the board already holds,
and checks everything end to end before it returns a matrix:

* every reply frame's CRC, kind, SEQ and length (:mod:`systolic.rtl.protocol`);
* the engine's status word after every job: no error flag, exactly one more job started;
* the number of result words, and that each is a sign- (or zero-) extended accumulator.

A corrupted, lost or unanswered message is sent again with the same SEQ, so the board replays
its reply instead of executing the request twice; after ``retries`` such attempts the driver
raises (:class:`BoardTimeout`, :class:`LinkError`; the frame layer is
:mod:`systolic.host.channel`). A failed call leaves the engine in an
unknown state, which the next ``matmul`` repairs first (drain its output, resynchronize its
command decoder, clear its error flag).
"""

import time

from ..rtl.engine.protocol import Opcode, parse_status
from ..rtl.protocol import (DEFAULT_BAUD, FRAME_TIMEOUT_BYTES, INFO_BYTES, MIN_MAX_PAYLOAD,
                            ErrorCode, Kind, ProtocolError, bytes_to_words, config_from_info,
                            decode_info, info_reply_problem, words_to_bytes)
from ..sim.engine_tiling import assemble_results, command_words, plan_jobs
from ..sim.model import check_operands
from .channel import (BITS_PER_BYTE, AcceleratorError, BoardError, BoardTimeout, Channel,
                      LinkError, PortError)
from .gemm_jobs import STATUS_WORDS, BankContents, gemm_jobs, job_messages
from .transport import LinkClosed, SerialLink

__all__ = [
    "Accelerator", "AcceleratorError", "BoardTimeout", "LinkError", "BoardError", "EngineError",
    "ResultError", "PortError", "InfoError", "config_from_info", "DEFAULT_TIMEOUT", "DEFAULT_RETRIES",
    "VIRTUAL_TIMEOUT",
]

#: Seconds to wait for a reply (plus the time its bytes take on the line).
DEFAULT_TIMEOUT = 1.0
#: Further attempts at one message after a bad or missing reply.
DEFAULT_RETRIES = 4
#: Reply timeout for a virtual board.
VIRTUAL_TIMEOUT = 2.0


class EngineError(AcceleratorError):
    """The GEMM engine flagged an error (its status word says which).

    Attributes
    ----------
    status : Status or None
        The engine's decoded status word, when it could be read.
    """

    def __init__(self, message, status=None):
        self.status = status
        super().__init__(message)


class InfoError(AcceleratorError, ProtocolError):
    """The board's INFO reply is unusable: another protocol version, or an impossible design."""


class ResultError(AcceleratorError):
    """The board's answer does not add up: a wrong number of result words or of jobs."""


class Accelerator:
    """A board running the GEMM engine behind the wire protocol.

    Use :meth:`open` (a serial port) or :meth:`virtual` (a simulated board), both context
    managers; the constructor takes an already open link. One thread at a time: the
    protocol has one request outstanding, and so does an accelerator.

    Parameters
    ----------
    link : SerialLink
        The open port; the accelerator owns and closes it.
    timeout : float
        Seconds to wait for each reply, on top of its time on the line.
    retries : int
        Further attempts at a message after a corrupted, refused-as-damaged or missing reply.
    board : object, optional
        Something with a ``close()`` to call after the port is closed (a virtual board).
    quiet_s : float, optional
        How long the line must stay quiet before a retry (default: twice the board's frame
        timeout at ``link.baud``, at least 20 ms).

    Raises
    ------
    BoardTimeout, LinkError, BoardError, InfoError
        If the board does not answer PING and INFO properly.
    """

    def __init__(self, link, *, timeout=DEFAULT_TIMEOUT, retries=DEFAULT_RETRIES, board=None,
                 quiet_s=None):
        self._link = link
        self._board = board
        if quiet_s is None:
            quiet_s = max(0.02, 2 * FRAME_TIMEOUT_BYTES * BITS_PER_BYTE / link.baud)
        self._info = None
        self._config = None
        self._engine_known = False   # engine state after an unknown past: resync first
        self._jobs = 0               # the engine's job counter, as of its last status word
        self._banks = BankContents()
        try:
            self._channel = Channel(link, timeout=timeout, retries=retries, quiet_s=quiet_s)
            self._sync()
            self.info()
        except BaseException:
            self.close()
            raise

    # Opening and closing ---------------------------------------------------------------------

    @classmethod
    def open(cls, port, baud=DEFAULT_BAUD, timeout=DEFAULT_TIMEOUT, *, retries=DEFAULT_RETRIES):
        """Connect to a board on serial port ``port`` at ``baud`` (8N1).

        Parameters
        ----------
        port : str
            The board's serial port (``/dev/ttyUSB1``, ``COM4``, a virtual board's pty).
        baud : int
            Its line rate (the board's UART runs at the rate it was built for).
        timeout : float
            Seconds to wait for each reply, on top of the reply's time on the line.
        retries : int
            Further attempts at a message after a bad or missing reply.

        Raises
        ------
        PortError
            If the port cannot be opened (also an ``OSError``).
        BoardTimeout
            If nothing answers on it.
        """
        if isinstance(baud, bool) or not isinstance(baud, int) or baud <= 0:
            raise ValueError(f"baud={baud!r} must be a positive integer")
        try:
            link = SerialLink(port, baud)
        except LinkClosed as exc:
            raise PortError(str(exc)) from None
        return cls(link, timeout=timeout, retries=retries)

    @classmethod
    def virtual(cls, config=None, *, timeout=VIRTUAL_TIMEOUT, retries=DEFAULT_RETRIES,
                **board_options):
        """Start a simulated board (:class:`~systolic.host.virtual_board.VirtualBoard`) and
        connect to it through its pseudo-terminal, exactly as to a serial port.

        Parameters
        ----------
        config : EngineConfig or ArrayConfig, optional
            The design (default ``EngineConfig()``; an ``ArrayConfig`` gets default buffers).
        timeout, retries
            As for :meth:`open` (the timeout is longer by default: a simulation shares the
            machine's cores).
        **board_options
            Passed to :class:`~systolic.host.virtual_board.VirtualBoard` (``build_root``, ...).
        """
        from .virtual_board import VirtualBoard
        board = VirtualBoard(config, **board_options)
        try:
            link = SerialLink(board.port, DEFAULT_BAUD, peer=board)
        except LinkClosed as exc:
            board.close()
            raise PortError(str(exc)) from None
        except BaseException:
            board.close()
            raise
        return cls(link, timeout=timeout, retries=retries, board=board,
                   quiet_s=board.quiet_s)

    def close(self):
        """Close the port, then stop the virtual board if there is one (idempotent)."""
        link, self._link = self._link, None
        if link is not None:
            link.close()
        board, self._board = self._board, None
        if board is not None:
            board.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def board(self):
        """The virtual board behind this accelerator, or None for a real one."""
        return self._board

    # The design -------------------------------------------------------------------------------

    def _sync(self):
        # Before anything else, a PING: the cheapest proof that a board is there. (The board
        # answers a repeat of the request it executed last, same SEQ and same bytes, with
        # its old reply; if an earlier session ended with this very PING, that reply is an
        # ACK too, and every later request carries a new SEQ.)
        self._request(Kind.PING)

    def ping(self):
        """Send a PING; return the round-trip time in seconds."""
        started = time.perf_counter()
        self._request(Kind.PING)
        return time.perf_counter() - started

    def info(self):
        """Read the design from the board (an INFO request); return the decoded ``Info``.

        The result is also what :attr:`config` is built from.

        Raises
        ------
        InfoError
            If the board speaks another protocol version or describes an invalid design.
        """
        reply = self._request(Kind.INFO, reply_payload=INFO_BYTES,
                              check=lambda f: info_reply_problem(f.payload))
        try:
            info = decode_info(reply.payload)
            config = config_from_info(info)
        except ProtocolError as exc:
            raise InfoError(str(exc)) from None
        if info.max_payload < MIN_MAX_PAYLOAD:
            raise InfoError(f"the board's INFO reply says max_payload={info.max_payload}, "
                            f"below the protocol's minimum of {MIN_MAX_PAYLOAD}")
        self._info, self._config = info, config
        self._channel.decoder.max_payload = info.max_payload
        return info

    @property
    def config(self):
        """The board's :class:`EngineConfig`, as its INFO reply describes it."""
        return self._config

    # Statistics -------------------------------------------------------------------------------

    def stats(self):
        """Counters since the port was opened, as a dict.

        ``bytes_out``/``bytes_in``: bytes on the wire to/from the board; ``payload_out``/
        ``payload_in``: frame payload bytes among them; ``exchanges``: requests; ``retries``:
        repeated attempts; ``ignored_frames``: stale or duplicated replies skipped;
        ``silent``, ``refused``, ``bad_reply``: failed attempts by cause (no reply in time; the
        board saw a damaged request; a damaged, malformed or unexpected reply).
        """
        channel = self._channel
        return {
            "bytes_out": self._link.bytes_out if self._link else None,
            "bytes_in": self._link.bytes_in if self._link else None,
            "payload_out": channel.payload_out,
            "payload_in": channel.payload_in,
            "exchanges": channel.exchanges,
            "retries": channel.attempts - channel.exchanges,
            "ignored_frames": channel.ignored_frames,
            **channel.failures,
        }

    # Messages ---------------------------------------------------------------------------------

    def _request(self, kind, payload=b"", **options):
        if self._link is None:
            raise AcceleratorError("this accelerator is closed")
        try:
            return self._channel.request(kind, payload, **options)
        except BoardTimeout:
            if self._board is not None:
                self._board.check()     # a dead simulation says why, instead of a timeout
            raise

    @property
    def _words_per_frame(self):
        return self._info.max_payload // self._info.word_bytes

    def _write(self, words):
        """Send engine words in WRITE frames; each ACK means the engine took them all."""
        word_bytes = self._info.word_bytes
        data = words_to_bytes(words, word_bytes)
        step = self._words_per_frame * word_bytes
        for start in range(0, len(data), step):
            try:
                self._request(Kind.WRITE, data[start:start + step])
            except BoardError as exc:
                if exc.code == ErrorCode.ENGINE:
                    raise self._engine_error("the board reported an engine error on a WRITE") from None
                raise

    def _read_once(self, ask):
        """One READ of up to ``ask`` engine words; returns the words the DATA reply carried."""
        word_bytes = self._info.word_bytes

        def check(frame):
            size = len(frame.payload)
            if size % word_bytes or size > ask * word_bytes:
                return f"a DATA reply of {size} bytes to a READ of {ask} {word_bytes}-byte words"
            return None

        reply = self._request(Kind.READ, ask.to_bytes(2, "little"),
                              reply_payload=ask * word_bytes, check=check)
        return bytes_to_words(reply.payload, word_bytes)

    def _read(self, count):
        """Read exactly ``count`` engine words, in as many READs as the frame size needs.

        A DATA reply comes back short when the engine sent nothing for the board's timeout;
        two empty ones in a row mean it will not send the rest (:class:`ResultError`).
        """
        words, empty = [], 0
        while len(words) < count:
            got = self._read_once(min(count - len(words), self._words_per_frame))
            words += got
            empty = 0 if got else empty + 1
            if empty >= 2:
                raise ResultError(f"the engine stopped sending after {len(words)} of {count} "
                                  f"words")
        return words

    def _drain(self, limit):
        """Read and drop engine words until a READ finds none (at most ``limit`` READs)."""
        for _ in range(limit):
            if not self._read_once(self._words_per_frame):
                return
        raise ResultError(f"the engine kept sending words through {limit} full READs")

    def _status(self):
        """Ask the engine for its status word (after the words it owes) and decode it."""
        self._write(STATUS_WORDS)
        return _parse_status(self._read(1)[0])

    def _engine_error(self, message):
        self._engine_known = False
        status = None
        try:
            status = self._status()
        except AcceleratorError:
            pass
        detail = f": {status.code.name}" if status is not None else ""
        return EngineError(message + detail, status)

    # The engine -------------------------------------------------------------------------------

    def reset(self):
        """Bring the engine to a known idle state, whatever an earlier session left behind.

        Reads away results nobody collected, ends any command cut short (NOPs), clears the
        engine's error flag and forgets which operands the banks hold. :meth:`matmul` does
        this by itself before its first job and after any failure; calling it first keeps
        that work out of the first GEMM's time.

        Raises
        ------
        EngineError
            If the error flag does not clear.
        """
        if self._link is None:
            raise AcceleratorError("this accelerator is closed")
        self._engine_known = False
        self._banks.forget()
        config = self._config
        # Results a cut-short GEMM left would hold up every later command: read them away
        # (a job's results, or a READ command's, plus a status word).
        self._drain(2 * config.max_m * config.max_n // self._words_per_frame + 4)
        # NOPs end any command cut short (they are refused as arguments, taken as data), then
        # CLEAR drops the error it may have raised.
        self._write(command_words(Opcode.NOP) * config.resync_words + command_words(Opcode.CLEAR))
        status = self._status()
        if status.error:
            raise EngineError(f"the engine's error flag stays set after CLEAR ({status.code.name})",
                              status)
        self._jobs = status.jobs
        self._banks.forget()
        self._engine_known = True

    def _check_job_status(self, status):
        if status.error:
            raise EngineError(f"the engine refused a command: {status.code.name}", status)
        expected = (self._jobs + 1) % 256
        if status.jobs != expected:
            raise ResultError(f"the engine's job counter went from {self._jobs} to "
                              f"{status.jobs}, not by exactly one job")
        self._jobs = status.jobs

    def matmul(self, a, b, *, tiling=True):
        """Return ``A @ B`` computed by the board, exactly as the array computes it.

        Parameters
        ----------
        a : array_like of int, shape (M, K)
        b : array_like of int, shape (K, N)
            Integer matrices with values in the design's operand ranges.
        tiling : bool
            Split a GEMM larger than the engine's buffers into jobs (the default); if False,
            such a GEMM raises :class:`~systolic.sim.engine_tiling.JobError` (a ValueError).

        Returns
        -------
        numpy.ndarray, shape (M, N)
            ``int64`` (``object`` for accumulators over 64 bits), equal to
            :func:`systolic.sim.engine_model.engine_matmul` for this design.

        Raises
        ------
        ValueError
            (:class:`~systolic.sim.model.OperandError`) for operands the design cannot take,
            (``JobError``) for a GEMM too big with ``tiling=False``; nothing is sent then.
        BoardTimeout, LinkError, BoardError, EngineError, ResultError
            If the board's answer could not be obtained or checked.
        """
        if self._link is None:
            raise AcceleratorError("this accelerator is closed")
        config = self._config
        a, b = check_operands(a, b, config.array)
        if not tiling:
            # Refuse before any byte goes out (planning for real must wait for a reset).
            plan_jobs(a.shape[0], a.shape[1], b.shape[1], config, tiling=False)
        try:
            if not self._engine_known:
                self.reset()
            program, jobs = gemm_jobs(a, b, config, self._banks)
            words = []
            for job in jobs:
                outgoing = job.words + STATUS_WORDS
                replies = []
                for kind, count in job_messages(len(job.words), job.result_words):
                    if kind == Kind.WRITE:
                        self._write(outgoing[:count])
                        outgoing = outgoing[count:]
                    else:
                        replies.append(self._read(count))
                *results, (status,) = replies
                for got in results:
                    _check_extension(got, config)
                    words += got
                self._check_job_status(_parse_status(status))
        except BaseException:
            # Whatever happened, what the engine and its banks hold is no longer known.
            self._engine_known = False
            self._banks.forget()
            raise
        return assemble_results(words, program, config)


def _parse_status(word):
    try:
        return parse_status(word)
    except ValueError:
        raise ResultError(f"expected the engine's status word, got 0x{word:x}: the engine sent "
                          f"more result words than the job has") from None


def _check_extension(words, config):
    """Raise :class:`ResultError` unless every word is an accumulator extended to the word.

    Bits above ``acc_width`` repeat the sign (signed designs) or are zero; anything else is a
    word that never came from the result buffer.
    """
    acc_width = config.array.acc_width
    # The bits from the accumulator's sign bit up: all equal in a signed design, all zero
    # above it in an unsigned one.
    shift = acc_width - 1 if config.array.signed else acc_width
    allowed = (0, (1 << (config.word_width - shift)) - 1) if config.array.signed else (0,)
    for index, word in enumerate(words):
        if word >> shift not in allowed:
            raise ResultError(f"result word {index} (0x{word:x}) is not a {acc_width}-bit "
                              f"accumulator extended to {config.word_width} bits")
