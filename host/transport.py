"""The byte link under the driver: a serial port (a real UART or a pseudo-terminal).

Only bytes and time live here: what goes out, what comes in before a deadline, counters of
both, and waiting for a line to go quiet. Frames and retries are the driver's business
(:mod:`systolic.host.driver`). A virtual board is reached through the very same class, by the
path of its pseudo-terminal.
"""

import os
import time

__all__ = ["LinkClosed", "SerialLink", "READ_POLL_S"]

#: Longest single wait inside a read: reads loop until their own deadline in steps of this,
#: so a deadline is never overshot by more than one step.
READ_POLL_S = 0.02


class LinkClosed(OSError):
    """The port went away (device unplugged, pseudo-terminal closed) or could not be opened."""


class SerialLink:
    """A serial port opened with pyserial, raw, 8N1, with byte counters.

    Parameters
    ----------
    port : str
        Device path (``/dev/ttyUSB1``, ``/dev/pts/3``, ``COM4``).
    baud : int
        Line rate. A pseudo-terminal accepts and ignores it.
    write_timeout : float
        Seconds a write may block (a board that stops reading fills the OS buffer).
    peer : object, optional
        The process at the other end, if this program runs it (a virtual board): its
        ``check()`` raises the reason it stopped, which is then what a failed read or write,
        or a read that times out, reports instead of the port's own words.

    Attributes
    ----------
    bytes_out, bytes_in : int
        Bytes written to and read from the port since it was opened.
    """

    def __init__(self, port, baud, *, write_timeout=5.0, peer=None):
        import serial   # imported here: pyserial is only needed once a port is opened
        self.port = port
        self.peer = peer
        self.baud = baud
        self.bytes_out = 0
        self.bytes_in = 0
        try:
            self._serial = serial.Serial(port, baudrate=baud, timeout=READ_POLL_S,
                                         write_timeout=write_timeout, exclusive=True)
        except (serial.SerialException, OSError, ValueError) as exc:
            # pyserial nests the OS error's text in its own; the errno says it plainly.
            reason = os.strerror(exc.errno) if getattr(exc, "errno", None) else str(exc)
            raise LinkClosed(f"cannot open serial port {port!r}: {reason}") from None
        self._errors = (serial.SerialException, OSError)
        self._write_timeout = serial.SerialTimeoutException
        # Whatever a previous session left in the OS buffers belongs to nobody now.
        self._serial.reset_input_buffer()

    def send(self, data):
        """Write ``data``; :class:`TimeoutError` if the port does not take it in time."""
        try:
            self._serial.write(data)
            self._serial.flush()
        except self._write_timeout:
            self._check_peer()
            raise TimeoutError(f"{self.port}: the port did not take {len(data)} bytes within "
                               f"{self._serial.write_timeout} s (is the board reading?)") from None
        except self._errors as exc:
            self._check_peer()
            raise LinkClosed(f"{self.port}: write failed: {exc}") from None
        self.bytes_out += len(data)

    def receive(self, deadline):
        """Return the bytes that arrive before ``deadline`` (a ``time.monotonic()`` value).

        Returns as soon as some bytes are there; ``b""`` if none came in time.
        """
        while True:
            try:
                waiting = self._serial.in_waiting
                data = self._serial.read(max(1, waiting))
            except self._errors as exc:
                self._check_peer()
                raise LinkClosed(f"{self.port}: read failed: {exc}") from None
            if data:
                self.bytes_in += len(data)
                return data
            if time.monotonic() >= deadline:
                self._check_peer()
                return b""

    def _check_peer(self):
        if self.peer is not None:
            self.peer.check()

    def drain(self, quiet_s, limit_s):
        """Read and drop bytes until none came for ``quiet_s`` seconds, for at most ``limit_s``.

        Returns
        -------
        int
            Bytes dropped.
        """
        dropped = 0
        end = time.monotonic() + limit_s
        quiet_until = time.monotonic() + quiet_s
        while True:
            now = time.monotonic()
            if now >= quiet_until or now >= end:
                return dropped
            data = self.receive(min(quiet_until, end))
            if data:
                dropped += len(data)
                quiet_until = time.monotonic() + quiet_s

    def close(self):
        """Close the port (idempotent)."""
        serial_port, self._serial = getattr(self, "_serial", None), None
        if serial_port is not None:
            try:
                serial_port.close()
            except self._errors:
                pass

    @property
    def closed(self):
        """Whether :meth:`close` was called."""
        return self._serial is None
