"""Shapes and signatures shared by the parts of the protocol bridge (:mod:`.bridge`)."""

from amaranth.lib import data, enum
from amaranth.lib.memory import ReadPort, WritePort
from amaranth.utils import ceil_log2

__all__ = ["FrameStatus", "frame_layout", "reply_layout", "buffer_addr_width",
           "buffer_read_signature", "buffer_write_signature"]


class FrameStatus(enum.Enum, shape=2):
    """What the receiver made of a frame."""
    #: The CRC matched; the payload is in the payload buffer.
    OK = 0
    #: The CRC did not match; the payload buffer holds garbage.
    BAD_CRC = 1
    #: LEN exceeded ``max_payload``; only the header was read (the rest is being drained).
    TOO_LONG = 2


def frame_layout():
    """A received frame's header, as the receiver hands it to the executor.

    ``arg`` is the first two payload bytes, little-endian (the count of a READ), so that the
    executor does not have to read them back from the buffer; ``whole_words`` says whether
    LEN is a multiple of ``word_bytes`` (counted as the bytes arrive: no divider).
    """
    return data.StructLayout({
        "kind":        8,
        "seq":         8,
        "length":      16,
        "crc":         16,
        "status":      FrameStatus,
        "whole_words": 1,
        "arg":         16,
    })


def reply_layout():
    """A reply for the sender: the header fields and where the payload comes from.

    With ``inline`` set the payload is the single byte ``code`` (an ERROR reply, which must not
    disturb the reply buffer holding the last executed request's reply); otherwise it is the
    first ``length`` bytes of the reply buffer.
    """
    return data.StructLayout({
        "kind":   8,
        "seq":    8,
        "length": 16,
        "inline": 1,
        "code":   8,
    })


def buffer_addr_width(max_payload):
    """Address bits of one buffer of ``max_payload`` bytes."""
    return ceil_log2(max_payload)


def buffer_read_signature(max_payload):
    """Read port of a ``max_payload``-byte buffer, as seen by the memory."""
    return ReadPort.Signature(addr_width=buffer_addr_width(max_payload), shape=8)


def buffer_write_signature(max_payload):
    """Write port of a ``max_payload``-byte buffer, as seen by the memory."""
    return WritePort.Signature(addr_width=buffer_addr_width(max_payload), shape=8)
