"""The wire protocol between the host and a board: one module for the gateware and the host.

Standard library only, so that the host driver uses it without Amaranth and the bridge
gateware takes its constants from here. It holds every fact both ends must agree on: the
frames, the request kinds and error codes, the link's default rate (:data:`DEFAULT_BAUD`), and
the INFO reply in both directions (:func:`info_from_config` on the board's side,
:func:`config_from_info` on the host's).

Frames
------
Every message, in both directions, is one frame::

    SYNC  KIND  SEQ  LEN_LO LEN_HI  PAYLOAD[LEN]  CRC_LO CRC_HI

``SYNC`` is :data:`SYNC` (0xA5). ``CRC`` is CRC-16/CCITT-FALSE (polynomial 0x1021, initial
value 0xFFFF, no reflection; :func:`crc16`) over ``KIND SEQ LEN_LO LEN_HI PAYLOAD``.
``LEN`` is at most the board's ``max_payload`` (reported by INFO; at least
:data:`MIN_MAX_PAYLOAD`).

Exchanges
---------
The host sends one request and waits for its one reply, which carries the request's ``SEQ``.
The host uses a new ``SEQ`` (the previous plus one, modulo 256) for each new request and the
*same* ``SEQ`` when it sends a request again after a bad or missing reply: the board answers
a repeat of the request it executed last with the reply it sent then, without executing it
a second time, so a retried WRITE never feeds the engine twice and a retried READ gets the
same words again.

========  =====  ================================  =============================================
request   KIND   payload                           reply
========  =====  ================================  =============================================
PING      0x01   none                              ACK, empty
INFO      0x02   none                              INFO: the design (:class:`Info`)
WRITE     0x03   engine words, ``word_bytes`` a    ACK, empty, once the engine took every word
                 word, little-endian
READ      0x04   count (u16, little-endian)        DATA: up to ``count`` engine words (fewer if
                                                   the engine sends nothing for
                                                   :data:`FRAME_TIMEOUT_BYTES` byte times);
                                                   ``count * word_bytes <= max_payload``
========  =====  ================================  =============================================

A WRITE is acknowledged only once the engine has taken every word, and the engine takes a
START only after the previous job's results have been read: so a host must READ a job's
results before it WRITEs the next START (the driver in :mod:`systolic.host.driver` keeps that
order). A WRITE whose words the engine stops taking for :data:`FRAME_TIMEOUT_BYTES` byte times
is answered ERROR(``STALLED``) rather than never: the words taken stay taken, the rest of the
WRITE is dropped, and the host reads the results owed, then resynchronizes the engine (NOPs,
CLEAR) as after any command cut short.

Replies of kind ERROR (0xE0) carry one byte, an :class:`ErrorCode`. A frame whose CRC does
not match gets ``BAD_CRC`` with the SEQ it arrived with; the board also drops a frame that
stops arriving for :data:`FRAME_TIMEOUT_BYTES` byte times, so a host that lost bytes can retry
on a clean line.
"""

import binascii
import enum
import struct
from dataclasses import dataclass

from .config import ArrayConfig, ConfigError
from .engine.config import EngineConfig

__all__ = [
    "SYNC", "HEADER_BYTES", "CRC_BYTES", "MIN_MAX_PAYLOAD", "FRAME_TIMEOUT_BYTES",
    "Kind", "ErrorCode", "ProtocolError", "crc16", "encode_frame", "FrameDecoder", "Frame",
    "words_to_bytes", "bytes_to_words", "INFO_FORMAT", "INFO_BYTES", "Info", "encode_info",
    "decode_info", "info_reply_problem", "info_from_config", "config_from_info", "VERSION",
    "DEFAULT_BAUD", "BITS_PER_BYTE", "word_bytes",
]

SYNC = 0xA5
#: SYNC, KIND, SEQ and the two LEN bytes.
HEADER_BYTES = 5
CRC_BYTES = 2
#: Every board accepts payloads at least this long.
MIN_MAX_PAYLOAD = 256
#: Idle byte times after which a board drops a half-received frame.
FRAME_TIMEOUT_BYTES = 1024
#: The protocol's version, the first byte of an INFO reply. 2: INFO carries ``pipeline``.
#: 3: INFO's flags carry the dataflow (a weight-stationary engine takes A in another layout, so
#: a host that could not tell would send it wrong).
VERSION = 3
#: Link rate of a board top and of a host that is not told another (a board's own default
#: is :func:`systolic.boards.top.default_baud`); 12 cycles a bit at the iCEBreaker's 12 MHz.
DEFAULT_BAUD = 1_000_000
#: Line bits of one byte on an 8N1 UART (start, 8 data, stop): a byte time is this many bit
#: times.
BITS_PER_BYTE = 10


class Kind(enum.IntEnum):
    """The ``KIND`` byte of a frame."""
    PING = 0x01
    INFO = 0x02
    WRITE = 0x03
    READ = 0x04
    ACK = 0x81
    INFO_REPLY = 0x82
    DATA = 0x84
    ERROR = 0xE0


class ErrorCode(enum.IntEnum):
    """Why the board refused a request (the payload of an ERROR reply)."""
    BAD_CRC = 1       #: the frame's CRC did not match
    BAD_KIND = 2      #: unknown request kind
    TOO_LONG = 3      #: LEN exceeds the board's max_payload
    BAD_LENGTH = 4    #: LEN does not fit the kind (WRITE not whole words, READ not 2 bytes)
    ENGINE = 5        #: the engine reported an error (read its STATUS word for the code)
    STALLED = 6       #: the engine took no word of a WRITE for the frame timeout

    def describe(self):
        """A sentence for an exception message."""
        return {
            ErrorCode.BAD_CRC: "the board saw a corrupted frame (CRC mismatch)",
            ErrorCode.BAD_KIND: "the board does not know this request kind",
            ErrorCode.TOO_LONG: "the frame is longer than the board's buffer",
            ErrorCode.BAD_LENGTH: "the payload length does not fit the request",
            ErrorCode.ENGINE: "the GEMM engine reported an error",
            ErrorCode.STALLED: "the GEMM engine stopped taking the WRITE's words: it waits for "
                               "results to be READ before it takes a START",
        }[self]


class ProtocolError(Exception):
    """A frame that cannot be decoded, or a reply that does not fit its request."""


def crc16(data, crc=0xFFFF):
    """CRC-16/CCITT-FALSE of ``data`` (``crc16(b"123456789") == 0x29B1``)."""
    return binascii.crc_hqx(bytes(data), crc)


def encode_frame(kind, seq, payload=b""):
    """Return the bytes of one frame."""
    payload = bytes(payload)
    if not 0 <= seq <= 0xFF:
        raise ValueError(f"seq={seq} must be from 0 to 255")
    if len(payload) > 0xFFFF:
        raise ValueError(f"payload of {len(payload)} bytes exceeds 65535")
    body = struct.pack("<BBH", int(kind), seq, len(payload)) + payload
    return bytes([SYNC]) + body + struct.pack("<H", crc16(body))


@dataclass(frozen=True)
class Frame:
    """One decoded frame; ``crc_ok`` is False when the CRC did not match."""
    kind: int
    seq: int
    payload: bytes
    crc_ok: bool = True


class FrameDecoder:
    """Incremental frame decoder: feed it bytes, collect whole frames.

    Bytes before a SYNC are skipped. A frame whose LEN exceeds ``max_payload`` is dropped and
    decoding resumes at the next SYNC after its header.
    """

    def __init__(self, max_payload=0xFFFF):
        self.max_payload = max_payload
        self._buffer = bytearray()

    def feed(self, data):
        """Add ``data``; return the list of frames it completed."""
        self._buffer += data
        frames = []
        while True:
            start = self._buffer.find(SYNC)
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < HEADER_BYTES:
                return frames
            kind, seq, length = struct.unpack_from("<BBH", self._buffer, 1)
            if length > self.max_payload:
                del self._buffer[:1]
                continue
            total = HEADER_BYTES + length + CRC_BYTES
            if len(self._buffer) < total:
                return frames
            body = bytes(self._buffer[1:HEADER_BYTES + length])
            (crc,) = struct.unpack_from("<H", self._buffer, HEADER_BYTES + length)
            frames.append(Frame(kind, seq, body[HEADER_BYTES - 1:], crc16(body) == crc))
            del self._buffer[:total]

    def pending(self):
        """Bytes held towards an incomplete frame."""
        return len(self._buffer)

    def reset(self):
        """Forget any partial frame."""
        self._buffer.clear()


def words_to_bytes(words, word_bytes):
    """Little-endian bytes of unsigned ``words``, ``word_bytes`` each."""
    return b"".join(int(word).to_bytes(word_bytes, "little") for word in words)


def bytes_to_words(data, word_bytes):
    """Unsigned words from little-endian ``data``; its length must be a whole number of words."""
    if len(data) % word_bytes:
        raise ProtocolError(f"{len(data)} bytes are not a whole number of {word_bytes}-byte words")
    return [int.from_bytes(data[i:i + word_bytes], "little") for i in range(0, len(data), word_bytes)]


def word_bytes(engine_config):
    """Bytes of one engine word on the wire: ``ceil(word_width / 8)``."""
    return (engine_config.word_width + 7) // 8


#: INFO reply payload: version, flags (bit 0 signed, bit 1 saturate, bit 2 weight-stationary),
#: rows, cols, a_width, b_width, acc_width, word_bytes, max_m, max_k, max_n, max_payload, clock
#: in kHz, pipeline.
INFO_FORMAT = "<BBHHBBBBHHHHIB"
#: Bytes of an INFO reply payload.
INFO_BYTES = struct.calcsize(INFO_FORMAT)


@dataclass(frozen=True)
class Info:
    """What a board says about its design in an INFO reply."""
    version: int
    signed: bool
    saturate: bool
    rows: int
    cols: int
    a_width: int
    b_width: int
    acc_width: int
    word_bytes: int
    max_m: int
    max_k: int
    max_n: int
    max_payload: int
    clock_khz: int
    pipeline: int = 0
    weight_stationary: bool = False


def encode_info(info):
    """Payload bytes of an INFO reply."""
    flags = int(info.signed) | int(info.saturate) << 1 | int(info.weight_stationary) << 2
    return struct.pack(INFO_FORMAT, info.version, flags, info.rows, info.cols, info.a_width,
                       info.b_width, info.acc_width, info.word_bytes, info.max_m, info.max_k,
                       info.max_n, info.max_payload, info.clock_khz, info.pipeline)


def _version_problem(payload):
    if payload and payload[0] != VERSION:
        return (f"the board speaks protocol version {payload[0]} and this host version "
                f"{VERSION}: rebuild the board with this systolic (or use the systolic it was "
                f"built with)")
    return None


def info_reply_problem(payload):
    """Why ``payload`` cannot be an INFO reply as it arrived (a damaged one: worth a retry), or
    ``None``. A reply of another protocol version passes: :func:`decode_info` refuses it by
    name, since asking again would not change it."""
    if _version_problem(payload) or len(payload) == INFO_BYTES:
        return None
    return f"an INFO reply of {len(payload)} bytes, not {INFO_BYTES}"


def decode_info(payload):
    """Parse an INFO reply payload.

    Raises
    ------
    ProtocolError
        If the board speaks another protocol version (the message says both), or the payload
        has the wrong size.
    """
    problem = _version_problem(payload)
    if problem:
        raise ProtocolError(problem)
    if len(payload) != INFO_BYTES:
        raise ProtocolError(f"INFO payload has {len(payload)} bytes, expected {INFO_BYTES}")
    (version, flags, rows, cols, a_width, b_width, acc_width, word_bytes_, max_m, max_k, max_n,
     max_payload, clock_khz, pipeline) = struct.unpack(INFO_FORMAT, payload)
    return Info(version, bool(flags & 1), bool(flags & 2), rows, cols, a_width, b_width,
                acc_width, word_bytes_, max_m, max_k, max_n, max_payload, clock_khz, pipeline,
                bool(flags & 4))


def info_from_config(engine_config, *, clock_hz, max_payload=MIN_MAX_PAYLOAD):
    """The :class:`Info` a board with ``engine_config`` reports (the bridge's INFO reply).

    Raises
    ------
    ValueError
        A field does not fit the INFO layout (e.g. ``max_m`` above 65535).
    """
    array = engine_config.array
    info = Info(
        version=VERSION, signed=array.signed, saturate=array.overflow == "saturate",
        rows=array.rows, cols=array.cols, a_width=array.a_width, b_width=array.b_width,
        acc_width=array.acc_width, word_bytes=word_bytes(engine_config),
        max_m=engine_config.max_m, max_k=engine_config.max_k, max_n=engine_config.max_n,
        max_payload=max_payload, clock_khz=round(clock_hz / 1000), pipeline=array.pipeline,
        weight_stationary=array.weight_stationary)
    try:
        encode_info(info)
    except struct.error as exc:
        raise ValueError(f"{info} does not fit the INFO reply layout: {exc}") from None
    return info


def config_from_info(info):
    """Return the :class:`~systolic.rtl.engine.config.EngineConfig` an INFO reply describes:
    the inverse of :func:`info_from_config`.

    INFO carries the accumulator width explicitly, so the array's ``max_k`` (which only derives
    a default width) keeps its default; ``word_width`` is taken as ``8 * word_bytes``.

    Raises
    ------
    ProtocolError
        If the buffers are not whole blocks of the array, or the values are not a valid design.
    """
    if info.max_m % info.rows or info.max_n % info.cols:
        raise ProtocolError(f"INFO says max_m={info.max_m}, max_n={info.max_n}: not multiples "
                            f"of the {info.rows}x{info.cols} array")
    try:
        array = ArrayConfig(rows=info.rows, cols=info.cols, a_width=info.a_width,
                            b_width=info.b_width, signed=info.signed, acc_width=info.acc_width,
                            overflow="saturate" if info.saturate else "wrap",
                            pipeline=info.pipeline,
                            dataflow="weight-stationary" if info.weight_stationary
                            else "output-stationary")
        return EngineConfig(array=array, k_depth=info.max_k, m_blocks=info.max_m // info.rows,
                            n_blocks=info.max_n // info.cols, word_width=8 * info.word_bytes)
    except ConfigError as exc:
        raise ProtocolError(f"INFO describes an invalid design: {exc}") from None
