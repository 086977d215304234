"""The virtual board itself: its build cache, its pseudo-terminal, its process, its command.

Most talk to the board with hand-made frames over plain pyserial, without the driver, so a
failure here points at the harness or the pty plumbing rather than at the driver.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import serial

from systolic.host.driver import Accelerator
from systolic.host.virtual_board import VirtualBoard, board_verilog, build_virtual_board
from systolic.rtl.protocol import info_from_config
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.protocol import FrameDecoder, Kind, decode_info, encode_frame


@pytest.fixture(scope="module")
def board():
    with VirtualBoard() as board:
        yield board


def exchange(port, frame, timeout=5.0):
    """Write ``frame`` and return the first whole frame that comes back."""
    decoder = FrameDecoder()
    deadline = time.monotonic() + timeout
    port.write(frame)
    while time.monotonic() < deadline:
        frames = decoder.feed(port.read(max(1, port.in_waiting)))
        if frames:
            return frames[0]
    raise AssertionError("no reply from the virtual board")


def stat_fields(pid):
    """The fields of ``/proc/PID/stat`` after the command name (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def process_state(pid):
    return stat_fields(pid)[0]


def cpu_seconds(pid):
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_build_is_cached_by_verilog_hash(board):
    build, mask = build_virtual_board(EngineConfig())
    assert build.reused                       # the fixture's board built (or found) it
    assert (build.directory / "board_harness").is_file()
    verilog, same_mask = board_verilog(EngineConfig())
    assert (build.directory / "board_core.v").read_text() == verilog
    assert mask == same_mask and mask != 0


def test_pty_answers_frames_like_a_serial_port(board):
    with serial.Serial(board.port, 1_000_000, timeout=0.05) as port:
        port.reset_input_buffer()
        reply = exchange(port, encode_frame(Kind.PING, 17))
        assert (reply.kind, reply.seq, reply.payload, reply.crc_ok) == (Kind.ACK, 17, b"", True)
        reply = exchange(port, encode_frame(Kind.INFO, 18))
        assert reply.kind == Kind.INFO_REPLY and reply.seq == 18
        assert decode_info(reply.payload) == info_from_config(EngineConfig(), clock_hz=12_000_000)
        # Raw mode both ways: every byte value passes unchanged (0x0A, 0x0D, 0x03, 0x11...).
        reply = exchange(port, encode_frame(Kind.PING, 0x0D) + bytes(range(32)))
        assert reply.kind == Kind.ACK and reply.seq == 0x0D


def test_a_second_client_can_connect_after_the_first(board):
    for seq in (1, 2):
        with serial.Serial(board.port, 1_000_000, timeout=0.05) as port:
            port.reset_input_buffer()
            assert exchange(port, encode_frame(Kind.PING, seq)).seq == seq


def test_an_idle_board_sleeps(board):
    # The harness clocks the core only while something happens; waiting costs no CPU.
    time.sleep(0.2)
    before = cpu_seconds(board.pid)
    time.sleep(1.0)
    assert cpu_seconds(board.pid) - before < 0.1


def test_close_stops_the_simulation_and_reports_its_counters():
    board = VirtualBoard()
    pid = board.pid
    with serial.Serial(board.port, 1_000_000, timeout=0.05) as port:
        exchange(port, encode_frame(Kind.PING, 5))
    board.close()
    assert not board.running and board.pid is None
    assert board.stats["bytes_in"] == 7 and board.stats["bytes_out"] == 7
    assert board.stats["cycles"] > 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    board.close()                               # idempotent


def test_simulation_ends_when_its_owner_dies(tmp_path):
    # SIGKILL leaves no chance to clean up: the harness must notice the pty hanging up.
    script = ("from systolic.host.virtual_board import VirtualBoard\n"
              "import sys, time\n"
              "board = VirtualBoard()\n"
              "print(board.pid, flush=True)\n"
              "time.sleep(60)\n")
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                          text=True) as owner:
        try:
            pid = int(owner.stdout.readline())
            owner.kill()
            owner.wait(10)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                # A zombie counts as gone: its parent (the killed owner) is gone too.
                if process_state(pid) == "Z":
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
                pytest.fail("the harness outlived its owner")
        finally:
            owner.kill()


@pytest.mark.parametrize("stop, dataflow", [(signal.SIGINT, "output-stationary"),
                                            (signal.SIGTERM, "weight-stationary")])
def test_cli_virtual_board_serves_until_interrupted(stop, dataflow):
    # Each dataflow's engine behind the pty; the host learns the dataflow from the board (INFO)
    # and sends A in that engine's layout.
    server = subprocess.Popen([sys.executable, "-m", "systolic.host.cli", "virtual-board",
                               "--dataflow", dataflow, "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        announced = json.loads(line)
        assert announced["config"] == EngineConfig(ArrayConfig(dataflow=dataflow)).to_dict()
        with Accelerator.open(announced["port"]) as acc:
            assert acc.config.array.dataflow == dataflow
            a = np.arange(12).reshape(3, 4) - 6
            b = np.arange(20).reshape(4, 5) - 10
            np.testing.assert_array_equal(acc.matmul(a, b), a @ b)
            a, b = (np.random.default_rng(13).integers(-128, 128, shape) for shape in ((37, 53), (53, 29)))
            np.testing.assert_array_equal(acc.matmul(a, b), a @ b)
        server.send_signal(stop)
        assert server.wait(15) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(announced["pid"], 0)
    finally:
        server.kill()
        server.communicate()
