"""The driver on a bad line: corrupted, dropped and duplicated bytes, and a board that goes quiet.

A proxy (:class:`FaultyLine`) sits between the driver and a virtual board: it opens a
pseudo-terminal of its own for the driver and the board's pseudo-terminal, like any serial
client, and relays every byte between them, damaging the ones it is told to. So the bytes
really cross both pseudo-terminals and the Verilated bridge and engine. Every case must end
in the right matrix (after retries) or in a clear exception, never in a wrong matrix, and
always within a bounded time.
"""

import os
import random
import select
import threading
import time
import tty

import numpy as np
import pytest

from systolic.host.driver import (Accelerator, AcceleratorError, BoardError, BoardTimeout,
                                  LinkError)
from systolic.host.transport import SerialLink
from systolic.host.virtual_board import VirtualBoard
from systolic.rtl.protocol import SYNC, ErrorCode, Kind
from systolic.rtl.protocol import DEFAULT_BAUD
from systolic.sim.engine_model import engine_matmul
from systolic.sim.engine_tiling import load_a_words, start_words

TO_BOARD, TO_HOST = "to_board", "to_host"
#: Reply timeout of the driver in these tests: short, so that lost messages cost little.
TIMEOUT = 0.5
RETRIES = 4
#: Worst case of one failing request: every attempt times out, with a drain before each retry.
REQUEST_BOUND_S = (RETRIES + 1) * (TIMEOUT + 0.05) + RETRIES * (TIMEOUT + 0.3) + 2


class FaultyLine:
    """Relays bytes between a pseudo-terminal of its own (:attr:`port`) and a board's port.

    Faults are set per direction (``"to_board"``, ``"to_host"``) by the index of the byte
    in that direction, counted from the start: :meth:`at` damages one byte, :meth:`noise`
    damages bytes at random, :meth:`garble` damages every frame, :meth:`cut` swallows
    everything from now on.
    """

    ACTIONS = ("corrupt", "drop", "duplicate")

    def __init__(self, board_port):
        self._host, host_slave = os.openpty()
        tty.setraw(host_slave)
        self.port = os.ttyname(host_slave)
        self._host_slave = host_slave   # kept open: the pty stays up between clients
        self._board = os.open(board_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self._board)
        self.counts = {TO_BOARD: 0, TO_HOST: 0}
        self.faults = {TO_BOARD: {}, TO_HOST: {}}
        self.done = []                  # (direction, index, action) of every fault applied
        self._noise = {}
        self._cut = set()
        self._garble = set()
        self._since_sync = {TO_BOARD: None, TO_HOST: None}
        self._lock = threading.Lock()
        self._stop_r, self._stop_w = os.pipe()
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def at(self, direction, action, after=0):
        """Apply ``action`` to the byte ``after`` bytes from now in ``direction``."""
        assert action in self.ACTIONS
        with self._lock:
            self.faults[direction][self.counts[direction] + after] = action

    def noise(self, rate, seed):
        """Damage each byte in both directions with probability ``rate`` (a random action)."""
        with self._lock:
            self._noise = {"rate": rate, "rng": random.Random(seed)}

    def cut(self, *directions):
        """Swallow every byte from now on in ``directions`` (both if none given)."""
        with self._lock:
            self._cut = set(directions or (TO_BOARD, TO_HOST))

    def garble(self, *directions):
        """Flip a bit in the 7th byte after every SYNC in ``directions`` (an empty frame's last
        CRC byte, a longer one's first payload byte): frames keep their shape, no CRC holds."""
        with self._lock:
            self._garble = set(directions)

    def heal(self):
        """Stop all faults."""
        with self._lock:
            self._cut = set()
            self._garble = set()
            self._noise = {}
            self.faults = {TO_BOARD: {}, TO_HOST: {}}

    def _damage(self, direction, data):
        out = bytearray()
        with self._lock:
            for byte in data:
                index = self.counts[direction]
                self.counts[direction] += 1
                if direction in self._cut:
                    continue
                if direction in self._garble:
                    since = self._since_sync[direction]
                    since = 0 if byte == SYNC else None if since is None else since + 1
                    self._since_sync[direction] = since
                    out.append(byte ^ 0x10 if since == 6 else byte)
                    continue
                action = self.faults[direction].pop(index, None)
                if action is None and self._noise and self._noise["rng"].random() < self._noise["rate"]:
                    action = self._noise["rng"].choice(self.ACTIONS)
                if action is not None:
                    self.done.append((direction, index, action))
                if action == "corrupt":
                    out.append(byte ^ (1 << random.Random(index).randrange(8)))
                elif action == "duplicate":
                    out += bytes([byte, byte])
                elif action != "drop":
                    out.append(byte)
        return bytes(out)

    def _relay(self):
        routes = {self._host: (TO_BOARD, self._board), self._board: (TO_HOST, self._host)}
        while True:
            ready, _, _ = select.select([self._host, self._board, self._stop_r], [], [], 1.0)
            if self._stop_r in ready:
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                direction, target = routes[fd]
                data = self._damage(direction, data)
                if data:
                    os.write(target, data)

    def close(self):
        os.write(self._stop_w, b"x")
        self._thread.join(5)
        for fd in (self._host, self._host_slave, self._board, self._stop_r, self._stop_w):
            os.close(fd)


@pytest.fixture(scope="module")
def board():
    with VirtualBoard() as board:
        yield board


@pytest.fixture
def line(board):
    line = FaultyLine(board.port)
    yield line
    line.close()


@pytest.fixture
def acc(line, board):
    acc = Accelerator(SerialLink(line.port, DEFAULT_BAUD), timeout=TIMEOUT, retries=RETRIES,
                      quiet_s=board.quiet_s)
    acc.reset()
    yield acc
    acc.close()


def operands(m, k, n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, (m, k)), rng.integers(-128, 128, (k, n))


def check(acc, a, b):
    """Run one matmul; assert a returned matrix is right; return it, or the exception raised."""
    started = time.monotonic()
    try:
        result = acc.matmul(a, b)
    except AcceleratorError as exc:
        outcome = exc
    else:
        assert np.array_equal(result, engine_matmul(a, b, acc.config)), "a wrong matrix came back"
        outcome = result
    return outcome, time.monotonic() - started


# One damaged byte: the retry brings the right answer ----------------------------------------

# Offsets land in different frames and fields: headers, payloads, CRCs, ACKs, DATA.
@pytest.mark.parametrize("direction", [TO_BOARD, TO_HOST])
@pytest.mark.parametrize("action", FaultyLine.ACTIONS)
@pytest.mark.parametrize("after", [0, 3, 150, 1000])
def test_one_bad_byte_is_retried_to_the_right_result(acc, line, direction, action, after):
    a, b = operands(24, 40, 20, seed=after)
    line.at(direction, action, after)
    outcome, elapsed = check(acc, a, b)
    assert isinstance(outcome, np.ndarray), f"{action} {direction} at +{after}: {outcome!r}"
    assert line.done, "the fault was never applied (the GEMM is too short for the offset)"
    # A lost or damaged byte always costs a retry; a duplicated one may only add a stray byte
    # after a frame's end, which both sides skip.
    assert acc.stats()["retries"] >= (0 if action == "duplicate" else 1)
    assert elapsed < 2 * REQUEST_BOUND_S


def test_a_corrupted_request_gets_bad_crc_and_one_retry(acc, line):
    a, b = operands(8, 8, 8, seed=1)
    line.at(TO_BOARD, "corrupt", 20)   # inside the first WRITE's payload
    before = acc.stats()
    outcome, _ = check(acc, a, b)
    assert isinstance(outcome, np.ndarray)
    after = acc.stats()
    # The board's ERROR(BAD_CRC) makes the driver repeat the WRITE at once, with no timeout.
    assert after["refused"] - before["refused"] == 1
    assert after["silent"] == before["silent"]


# Many damaged bytes ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_noise_never_gives_a_wrong_matrix(acc, line, seed):
    a, b = operands(40, 48, 36, seed=seed)
    line.noise(rate=1 / 1500, seed=seed)
    outcome, elapsed = check(acc, a, b)
    assert len(line.done) >= 3, "the noise should have hit several bytes"
    # Either the right matrix (check() compared it) or a clear exception.
    assert isinstance(outcome, (np.ndarray, LinkError, BoardTimeout)), repr(outcome)
    line.heal()
    outcome, _ = check(acc, a, b)
    assert isinstance(outcome, np.ndarray), "the driver did not recover once the line was clean"


def test_every_reply_corrupted_ends_in_a_link_error(acc, line):
    a, b = operands(4, 4, 4, seed=5)
    line.garble(TO_HOST)
    outcome, elapsed = check(acc, a, b)
    assert isinstance(outcome, LinkError), repr(outcome)
    assert f"after {RETRIES + 1} attempt(s)" in str(outcome)
    assert "CRC" in str(outcome)
    assert elapsed < REQUEST_BOUND_S
    line.heal()
    assert isinstance(check(acc, a, b)[0], np.ndarray)


# A board that stops answering ------------------------------------------------------------------

@pytest.mark.parametrize("directions", [(TO_HOST,), (TO_BOARD,), (TO_BOARD, TO_HOST)])
def test_silent_board_raises_a_timeout_then_recovers(acc, line, directions):
    a, b = operands(24, 40, 16, seed=7)
    line.cut(*directions)
    outcome, elapsed = check(acc, a, b)
    assert isinstance(outcome, BoardTimeout), repr(outcome)
    assert isinstance(outcome, TimeoutError)
    assert "no reply from the board" in str(outcome)
    assert elapsed < REQUEST_BOUND_S
    line.heal()
    outcome, _ = check(acc, a, b)
    assert isinstance(outcome, np.ndarray), "the driver did not recover once the board answered"


def test_board_going_quiet_mid_gemm_times_out(acc, line):
    a, b = operands(64, 64, 64, seed=8)

    def cut_later():
        time.sleep(0.03)
        line.cut()
    threading.Thread(target=cut_later, daemon=True).start()
    outcome, elapsed = check(acc, a, b)
    assert isinstance(outcome, BoardTimeout), repr(outcome)
    assert elapsed < REQUEST_BOUND_S + 1
    line.heal()
    assert isinstance(check(acc, a, b)[0], np.ndarray)


# The board's own state ---------------------------------------------------------------------------

def test_new_session_repairs_what_an_aborted_one_left(line, acc):
    config = acc.config
    rng = np.random.default_rng(9)
    # An aborted session: results nobody read, then a LOAD cut short in the middle.
    acc._write(load_a_words(rng.integers(-128, 128, (8, 8)), 1, config)
               + start_words(8, 8, 8, bank=1, emit=True))
    acc._write(load_a_words(rng.integers(-128, 128, (32, 32)), 0, config)[:40])
    acc.close()
    with Accelerator.open(line.port, timeout=TIMEOUT) as fresh:
        a, b = operands(30, 50, 20, seed=10)
        assert isinstance(check(fresh, a, b)[0], np.ndarray)


def test_a_request_the_board_refuses_raises_board_error(acc):
    # A READ of more words than a frame holds is malformed: BAD_LENGTH, not a retry.
    too_many = acc.info().max_payload // acc.info().word_bytes + 1
    with pytest.raises(BoardError) as caught:
        acc._request(Kind.READ, too_many.to_bytes(2, "little"))
    assert caught.value.code == ErrorCode.BAD_LENGTH
    assert "BAD_LENGTH" in str(caught.value)
