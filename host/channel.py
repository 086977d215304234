"""Requests and replies over a byte link: SEQ numbers, CRC checks and bounded retries.

The protocol layer under :mod:`systolic.host.driver` (which re-exports the exceptions defined
here). One request is outstanding at a time; a corrupted, refused-as-damaged or missing reply
makes the channel send the *same* frame again (same SEQ, same bytes), which the board answers
by replaying its reply instead of executing the request twice (:mod:`systolic.rtl.protocol`).
"""

import random
import time

from ..rtl.protocol import (BITS_PER_BYTE, CRC_BYTES, HEADER_BYTES, MIN_MAX_PAYLOAD, ErrorCode,
                            FrameDecoder, Kind, encode_frame)
from .transport import LinkClosed

__all__ = ["Channel", "AcceleratorError", "PortError", "BoardTimeout", "LinkError", "BoardError",
           "BITS_PER_BYTE"]

#: Replies a request may expect.
_REPLY = {Kind.PING: Kind.ACK, Kind.INFO: Kind.INFO_REPLY, Kind.WRITE: Kind.ACK,
          Kind.READ: Kind.DATA}
#: Error codes that line noise can cause (the board reports them before it can trust the
#: frame): the cure is sending the message again.
_RETRYABLE = {ErrorCode.BAD_CRC, ErrorCode.TOO_LONG}


class AcceleratorError(Exception):
    """Something went wrong between the host and the board; no result was returned."""


class PortError(AcceleratorError, LinkClosed):
    """The serial port could not be opened, or went away (an ``OSError`` too)."""


class BoardTimeout(AcceleratorError, TimeoutError):
    """The board did not answer, even after the retries."""


class LinkError(AcceleratorError):
    """Replies kept arriving corrupted or malformed, even after the retries."""


class BoardError(AcceleratorError):
    """The board refused a request (an ERROR reply).

    Attributes
    ----------
    code : ErrorCode
        The protocol's error code.
    """

    def __init__(self, code, request):
        self.code = code
        super().__init__(f"the board refused a {request.name} request: {code.name} "
                         f"({code.describe()})")


class Channel:
    """Requests and their replies over a link: SEQ numbers, CRC checks, bounded retries.

    Parameters
    ----------
    link : SerialLink
        The byte link (:mod:`systolic.host.transport`).
    timeout : float
        Seconds to wait for a reply, on top of its time on the line at ``link.baud``.
    retries : int
        Further attempts at a request after a failed one.
    quiet_s : float
        Silence to wait for before a repeat.

    Attributes
    ----------
    decoder : FrameDecoder
        Its ``max_payload`` should be the board's (set once INFO is known), so that a garbled
        header announcing a longer frame is skipped at once.
    exchanges, attempts, payload_out, payload_in, ignored_frames : int
        Counters (see :meth:`~systolic.host.driver.Accelerator.stats`).
    failures : dict
        Failed attempts by cause: ``silent``, ``refused``, ``bad_reply``.
    """

    def __init__(self, link, *, timeout, retries, quiet_s):
        if timeout <= 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"retries={retries!r} must be an integer >= 0")
        self.link = link
        self.timeout = timeout
        self.retries = retries
        self.quiet_s = quiet_s
        # A random first SEQ, so that two sessions in a row rarely start alike (see
        # driver.Accelerator._sync for why even that would do no harm).
        self.seq = random.randrange(256)
        self.decoder = FrameDecoder(max_payload=MIN_MAX_PAYLOAD)
        self.exchanges = 0
        self.attempts = 0
        self.payload_out = 0
        self.payload_in = 0
        self.ignored_frames = 0
        # Why attempts failed: no reply; the board saw a damaged request; a bad reply.
        self.failures = {"silent": 0, "refused": 0, "bad_reply": 0}
        # Set when a request failed: the line may still carry the rest of a reply.
        self._unclean = False

    def _line_s(self, nbytes):
        return nbytes * BITS_PER_BYTE / self.link.baud

    def request(self, kind, payload=b"", *, reply_payload=0, check=None):
        """Send one request and return its reply :class:`~systolic.rtl.protocol.Frame`.

        Parameters
        ----------
        kind : Kind
        payload : bytes
        reply_payload : int
            Most payload bytes the reply may carry (for its time on the line).
        check : callable, optional
            ``check(frame)`` returns None for a good reply or a reason to retry.

        Raises
        ------
        BoardTimeout, LinkError, BoardError
        """
        self.seq = (self.seq + 1) % 256
        frame = encode_frame(kind, self.seq, payload)
        wait_s = self.timeout + self._line_s(len(frame) + HEADER_BYTES + CRC_BYTES + reply_payload)
        self.exchanges += 1
        try:
            if self._unclean:
                self.link.drain(self.quiet_s, wait_s)
                self.decoder.reset()
                self._unclean = False
            return self._attempts(kind, frame, len(payload), wait_s, check)
        except BoardError:
            raise                      # a clean refusal: the line is in order
        except BaseException as exc:   # interrupts too: a reply may be on its way
            self._unclean = True
            if isinstance(exc, AcceleratorError):
                raise
            if isinstance(exc, LinkClosed):
                raise PortError(str(exc)) from None
            if isinstance(exc, TimeoutError):     # the port did not even take the bytes
                raise BoardTimeout(str(exc)) from None
            raise

    def _attempts(self, kind, frame, payload_bytes, wait_s, check):
        reasons = []
        silent_before = self.failures["silent"]
        for attempt in range(1 + self.retries):
            if attempt:
                # Let the rest of a garbled reply (or the board's frame timeout) pass first,
                # so that the repeat meets a clean line at both ends.
                self.link.drain(self.quiet_s, wait_s)
                self.decoder.reset()
            self.attempts += 1
            self.link.send(frame)
            self.payload_out += payload_bytes
            reply, cause, reason = self._await(kind, wait_s)
            if reply is not None and check is not None:
                reason = check(reply)
                reply, cause = (None, "bad_reply") if reason else (reply, None)
            if reply is not None:
                self.payload_in += len(reply.payload)
                return reply
            reasons.append(reason)
            self.failures[cause] += 1
        attempts = 1 + self.retries
        where = f"on {self.link.port}"
        if len(reasons) == self.failures["silent"] - silent_before:
            raise BoardTimeout(f"no reply from the board to a {kind.name} request {where} after "
                               f"{attempts} attempt(s) of {wait_s:.2f} s each (is it powered, "
                               f"programmed with this design, and on this port?)")
        raise LinkError(f"no good reply to a {kind.name} request {where} after {attempts} "
                        f"attempt(s): {'; '.join(dict.fromkeys(reasons))}")

    def _await(self, kind, wait_s):
        """Wait for the reply to the frame just sent.

        Returns ``(frame, None, None)``, or ``(None, cause, reason)`` with ``cause`` a key of
        :attr:`failures` and ``reason`` a phrase for an exception message.
        """
        deadline = time.monotonic() + wait_s
        while True:
            data = self.link.receive(deadline)
            if not data:
                return None, "silent", f"no reply within {wait_s:.2f} s"
            for reply in self.decoder.feed(data):
                if not reply.crc_ok:
                    return None, "bad_reply", "a reply failed its CRC check"
                if reply.kind == Kind.ERROR and len(reply.payload) == 1 \
                        and reply.payload[0] in set(_RETRYABLE):
                    # Whatever its SEQ (the corruption may have hit the SEQ), a board that saw
                    # a damaged frame saw ours: we are its only sender.
                    return (None, "refused",
                            f"the board saw a damaged request ({ErrorCode(reply.payload[0]).name})")
                if reply.seq != self.seq:
                    self.ignored_frames += 1     # a late or replayed answer to an older request
                    continue
                if reply.kind == Kind.ERROR:
                    if len(reply.payload) == 1 and reply.payload[0] in set(ErrorCode):
                        raise BoardError(ErrorCode(reply.payload[0]), kind)
                    return None, "bad_reply", f"a malformed ERROR reply ({reply.payload.hex()})"
                if reply.kind != _REPLY[kind]:
                    return (None, "bad_reply",
                            f"a {_kind_name(reply.kind)} reply to a {kind.name} request")
                return reply, None, None


def _kind_name(kind):
    return Kind(kind).name if kind in set(Kind) else f"0x{kind:02x}"
