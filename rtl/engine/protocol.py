"""The command set of the GEMM engine: word layouts shared by the gateware and the host.

Standard library only, like :mod:`~systolic.rtl.config`: the host encoder and the numpy models read these
constants without importing Amaranth.

Every word on the engine's streams is ``word_width`` bits wide (see
:class:`~.config.EngineConfig`). Headers and status words use the low 32 bits; any bit
above them must be zero in a header.

LOAD_A's data words hold A beat by beat: for each block of ``rows`` rows of A, for each K
step, the block's operands; on a weight-stationary engine (``config.array.dataflow``) for each
block of ``rows`` columns of K, for each row of A, the row's operands of the block
(:func:`~systolic.sim.engine_tiling.load_a_words` writes both).

Header word::

    bits  0- 7  opcode            (:class:`Opcode`)
    bits  8-15  flags             (:class:`Flag`; only those in :data:`ALLOWED_FLAGS` for the opcode)
    bits 16-23  reserved, zero
    bits 24-31  MAGIC (0xC5)

Status word (answer to ``STATUS``)::

    bit      0  busy: a job is in the array or its rows are not all written yet
    bit      1  error: a command was refused since the last CLEAR (sticky)
    bits  4- 7  code of the latest refused command (:class:`ErrorCode`)
    bits  8-15  jobs started since reset, modulo 256
    bits 24-31  MAGIC (0xC5)
"""

from dataclasses import dataclass
from enum import IntEnum, IntFlag

__all__ = [
    "MAGIC", "HEADER_BITS", "Opcode", "Flag", "ErrorCode", "ALLOWED_FLAGS", "ARGUMENTS",
    "OPCODE_BITS", "FLAG_BITS", "RESERVED_BITS", "MAGIC_BITS",
    "STATUS_BUSY_BIT", "STATUS_ERROR_BIT", "STATUS_CODE_BITS", "STATUS_JOBS_BITS",
    "header", "status_word", "Status", "parse_status",
]

#: Tag in the top byte of every header and status word. Random words are refused as headers
#: with probability 255/256 on this byte alone, which keeps garbage from being taken for a
#: command that would swallow the words after it.
MAGIC = 0xC5
#: Bits of a word that headers and status words use.
HEADER_BITS = 32

#: ``(offset, width)`` of the header fields.
OPCODE_BITS = (0, 8)
FLAG_BITS = (8, 8)
RESERVED_BITS = (16, 8)
MAGIC_BITS = (24, 8)

#: Bit offsets of the status fields.
STATUS_BUSY_BIT = 0
STATUS_ERROR_BIT = 1
STATUS_CODE_BITS = (4, 4)
STATUS_JOBS_BITS = (8, 8)


class Opcode(IntEnum):
    """Commands. Argument words follow the header in the order of :data:`ARGUMENTS`."""
    #: Do nothing (also the filler of the resynchronisation sequence).
    NOP = 0x00
    #: Load A (M x K, row-major) into operand bank ``Flag.BANK``; args M, K; then data words.
    LOAD_A = 0x01
    #: Load B (K x N, row-major) into operand bank ``Flag.BANK``; args K, N; then data words.
    LOAD_B = 0x02
    #: Run ``A @ B`` from bank ``Flag.BANK``; args M, K, N.
    START = 0x03
    #: Stream the result buffer of the last started job (M x N words, tile order).
    READ = 0x04
    #: Send one status word, after any result words still owed.
    STATUS = 0x05
    #: Clear the error flag and code.
    CLEAR = 0x06


class Flag(IntFlag):
    """Header flags (bits 8-15)."""
    #: Operand bank 0 or 1 (double buffering: load one while the other is computed).
    BANK = 0x01
    #: START: add this job's products to the result buffer instead of overwriting it.
    ACCUMULATE = 0x02
    #: START: stream the job's results on ``o_stream`` as their tiles finish.
    EMIT = 0x04


#: Flags each opcode accepts; any other flag bit refuses the header.
ALLOWED_FLAGS = {
    Opcode.NOP: Flag(0),
    Opcode.LOAD_A: Flag.BANK,
    Opcode.LOAD_B: Flag.BANK,
    Opcode.START: Flag.BANK | Flag.ACCUMULATE | Flag.EMIT,
    Opcode.READ: Flag(0),
    Opcode.STATUS: Flag(0),
    Opcode.CLEAR: Flag(0),
}

#: Argument words of each opcode, in order (opcodes not listed take none).
ARGUMENTS = {
    Opcode.LOAD_A: ("m", "k"),
    Opcode.LOAD_B: ("k", "n"),
    Opcode.START: ("m", "k", "n"),
}


class ErrorCode(IntEnum):
    """Why a command was refused. A refused command has no effect (no data is consumed)."""
    NONE = 0
    #: Wrong magic, non-zero reserved bits or bits above 32, or a flag the opcode does not take.
    BAD_HEADER = 1
    #: Unknown opcode.
    BAD_OPCODE = 2
    #: A dimension argument is zero.
    ZERO_SHAPE = 3
    #: A dimension exceeds the buffers (M > max_m, K > max_k or N > max_n).
    TOO_BIG = 4
    #: READ before any job was started.
    NO_RESULT = 5


def _field(value, bits):
    offset, width = bits
    if not 0 <= value < (1 << width):
        raise ValueError(f"{value!r} does not fit a {width}-bit field")
    return value << offset


def header(opcode, flags=0):
    """Return the header word of ``opcode`` with ``flags``."""
    return (_field(int(opcode), OPCODE_BITS) | _field(int(flags), FLAG_BITS)
            | _field(MAGIC, MAGIC_BITS))


def status_word(busy, error, code, jobs):
    """Return the status word the engine sends for these field values."""
    return ((int(bool(busy)) << STATUS_BUSY_BIT) | (int(bool(error)) << STATUS_ERROR_BIT)
            | _field(int(code), STATUS_CODE_BITS) | _field(jobs % 256, STATUS_JOBS_BITS)
            | _field(MAGIC, MAGIC_BITS))


@dataclass(frozen=True)
class Status:
    """A decoded status word."""
    busy: bool
    error: bool
    code: ErrorCode
    jobs: int


def parse_status(word):
    """Decode a status word; ``ValueError`` if it does not carry :data:`MAGIC`."""
    def get(bits):
        offset, width = bits
        return (word >> offset) & ((1 << width) - 1)
    if get(MAGIC_BITS) != MAGIC:
        raise ValueError(f"0x{word:x} is not a status word (no magic 0x{MAGIC:02x} in bits 24-31)")
    return Status(busy=bool((word >> STATUS_BUSY_BIT) & 1),
                  error=bool((word >> STATUS_ERROR_BIT) & 1),
                  code=ErrorCode(get(STATUS_CODE_BITS)),
                  jobs=get(STATUS_JOBS_BITS))
