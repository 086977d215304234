"""The host driver against virtual boards: the Verilated board core behind a pty, via pyserial.

Every GEMM here crosses the whole path a real board's does: numpy operands, the tiler's
command words, protocol frames written with pyserial into a pseudo-terminal, the bridge and
engine gateware in Verilator, and back. Results are held to the engine's numpy model.
"""

import os
import subprocess
import sys
import time
import tty

import numpy as np
import pytest

from systolic.host import Accelerator
from systolic.host.driver import AcceleratorError, BoardTimeout, PortError
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.protocol import MIN_MAX_PAYLOAD, config_from_info, info_from_config
from systolic.sim.engine_model import engine_matmul
from systolic.sim.model import OperandError

#: Designs with their own virtual board (a Verilator build each, cached across runs).
SMALL_UNSIGNED = EngineConfig(ArrayConfig(rows=2, cols=3, a_width=4, b_width=6, signed=False),
                              k_depth=8, m_blocks=2, n_blocks=2)
#: 16-bit operands into a 36-bit saturating accumulator: 40-bit (5-byte) words on the wire.
WIDE_SATURATING = EngineConfig(ArrayConfig(rows=3, cols=2, a_width=16, b_width=16, acc_width=36,
                                           overflow="saturate"), k_depth=16, m_blocks=2, n_blocks=3)


def random_operands(config, m, k, n, seed):
    rng = np.random.default_rng(seed)
    array = config.array
    return (rng.integers(array.a_range[0], array.a_range[1], (m, k), endpoint=True),
            rng.integers(array.b_range[0], array.b_range[1], (k, n), endpoint=True))


def assert_matmul(acc, a, b):
    result = acc.matmul(a, b)
    assert isinstance(result, np.ndarray)
    assert result.shape == (a.shape[0], b.shape[1])
    np.testing.assert_array_equal(result, engine_matmul(a, b, acc.config))
    return result


@pytest.fixture(scope="module")
def acc():
    with Accelerator.virtual() as acc:
        yield acc


@pytest.fixture(scope="module")
def small_acc():
    with Accelerator.virtual(SMALL_UNSIGNED) as acc:
        yield acc


# The design comes from the board -------------------------------------------------------------

def test_info_describes_the_default_design(acc):
    config = EngineConfig()
    info = acc.info()
    assert info == info_from_config(config, clock_hz=12_000_000, max_payload=MIN_MAX_PAYLOAD)
    assert acc.config.array.acc_width == config.array.acc_width
    assert (acc.config.max_m, acc.config.max_k, acc.config.max_n) == (128, 128, 128)
    assert acc.config.word_width == config.word_width


@pytest.mark.parametrize("config", [EngineConfig(), SMALL_UNSIGNED, WIDE_SATURATING,
                                    EngineConfig.ecp5(ArrayConfig(rows=8, cols=8, pipeline=1)),
                                    EngineConfig(ArrayConfig(dataflow="weight-stationary"))])
def test_config_round_trips_through_info(config):
    # What the board says is enough to rebuild every parameter the host needs.
    rebuilt = config_from_info(info_from_config(config, clock_hz=12e6))
    assert rebuilt.to_dict() | {"array": None} == config.to_dict() | {"array": None}
    for name in ("rows", "cols", "a_width", "b_width", "signed", "acc_width", "overflow",
                 "pipeline", "dataflow"):
        assert getattr(rebuilt.array, name) == getattr(config.array, name)


def test_impossible_info_is_refused():
    from dataclasses import replace
    from systolic.rtl.protocol import ProtocolError
    info = info_from_config(EngineConfig(), clock_hz=12e6)
    with pytest.raises(ProtocolError, match="not multiples of the 4x4 array"):
        config_from_info(replace(info, max_m=30))
    with pytest.raises(ProtocolError, match="invalid design"):
        config_from_info(replace(info, acc_width=8))   # narrower than one product


# GEMMs --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("m, k, n", [
    (1, 1, 1), (4, 4, 4), (5, 7, 3), (37, 53, 29),   # one job
    (129, 1, 133),                                   # blocks of M and N
    (5, 200, 7),                                     # K chunks
    (64, 64, 64),
])
def test_matmul_default_design(acc, m, k, n):
    a, b = random_operands(acc.config, m, k, n, seed=m * k * n)
    result = assert_matmul(acc, a, b)
    np.testing.assert_array_equal(result, a @ b)     # 28-bit accumulators never overflow here
    assert result.dtype == np.int64


def test_matmul_extreme_operands(acc):
    for value_a, value_b in ((-128, -128), (-128, 127), (127, 127)):
        a = np.full((9, 70), value_a, dtype=np.int8)
        b = np.full((70, 6), value_b, dtype=np.int8)
        np.testing.assert_array_equal(assert_matmul(acc, a, b), a.astype(int) @ b.astype(int))


def test_matmul_accepts_any_integer_dtype_and_lists(acc):
    a, b = random_operands(acc.config, 6, 9, 5, seed=3)
    expected = a @ b
    np.testing.assert_array_equal(acc.matmul(a.astype(np.int16), b.astype(np.int8)), expected)
    np.testing.assert_array_equal(acc.matmul(a.tolist(), b.tolist()), expected)


def test_operands_already_on_the_board_are_not_sent_again(acc):
    a, b1 = random_operands(acc.config, 16, 24, 8, seed=4)
    _, b2 = random_operands(acc.config, 16, 24, 8, seed=5)
    acc.reset()
    first = acc.stats()
    assert_matmul(acc, a, b1)
    second = acc.stats()
    assert_matmul(acc, a, b2)              # A is still in its bank: only B goes out
    third = acc.stats()
    assert_matmul(acc, a, b2)              # both are: only the START
    fourth = acc.stats()
    sent = [second["payload_out"] - first["payload_out"],
            third["payload_out"] - second["payload_out"],
            fourth["payload_out"] - third["payload_out"]]
    word_bytes = acc.info().word_bytes
    a_bytes = (3 + acc.config.load_words("a", 16, 24)) * word_bytes  # LOAD_A: header, M, K, data
    assert sent[0] - sent[1] == a_bytes
    assert sent[2] < sent[1] < sent[0]
    assert sent[2] <= 16 * word_bytes                # START and STATUS only


def test_tiled_matmul_reuses_operand_blocks():
    from systolic.host.gemm_jobs import BankContents, gemm_jobs
    config = EngineConfig(k_depth=32, m_blocks=8, n_blocks=8)
    a, b = random_operands(config, 64, 64, 64, seed=6)
    _, jobs = gemm_jobs(a, b, config, BankContents())
    loads = [operand for job in jobs for operand in job.loaded]
    # 8 jobs (2 M-blocks x 2 N-blocks x 2 K-chunks): every job needs its B block, but an A
    # block stays in its bank across the N-blocks of its row.
    assert len(jobs) == 8 and loads.count("b") == 8 and loads.count("a") == 4


def test_matmul_small_unsigned_design(small_acc):
    assert small_acc.config.max_m == 4 and not small_acc.info().signed
    for m, k, n in [(1, 1, 1), (4, 8, 6), (5, 17, 7), (9, 20, 13)]:
        a, b = random_operands(small_acc.config, m, k, n, seed=m + k + n)
        np.testing.assert_array_equal(assert_matmul(small_acc, a, b), a @ b)


@pytest.mark.slow
def test_matmul_wide_saturating_design():
    with Accelerator.virtual(WIDE_SATURATING) as acc:
        assert acc.info().word_bytes == 5 and acc.info().saturate
        for m, k, n in [(1, 1, 1), (6, 16, 6), (7, 40, 5)]:
            a, b = random_operands(acc.config, m, k, n, seed=k)
            assert_matmul(acc, a, b)
        # Every product is 2**30; forty of them pass 2**35 - 1, so the engine saturates at
        # the end of the chunk that overflows (its K chunks of 14, 13 and 13 add up in the
        # result buffer with a clamp).
        a = np.full((4, 40), -(1 << 15))
        b = np.full((40, 3), -(1 << 15))
        result = assert_matmul(acc, a, b)
        assert (result == (1 << 35) - 1).all()


# Bad input and a dead line ------------------------------------------------------------------------

@pytest.mark.parametrize("a, b, message", [
    (np.ones((2, 3)), np.ones((3, 2), dtype=int), "integer dtype"),
    (np.ones((2, 3), dtype=bool), np.ones((3, 2), dtype=int), "integer dtype"),
    (np.ones((2, 3, 1), dtype=int), np.ones((3, 2), dtype=int), "2-D"),
    (np.ones((2, 3), dtype=int), np.ones((4, 2), dtype=int), "inner dimensions differ"),
    (np.full((2, 3), 128), np.ones((3, 2), dtype=int), "outside the 8-bit signed operand range"),
    (np.zeros((0, 3), dtype=int), np.ones((3, 2), dtype=int), "empty"),
])
def test_bad_operands_raise_value_error_before_any_byte(acc, a, b, message):
    before = acc.stats()
    with pytest.raises(ValueError, match=message) as caught:
        acc.matmul(a, b)
    assert isinstance(caught.value, OperandError)
    assert acc.stats()["bytes_out"] == before["bytes_out"]


def test_too_big_without_tiling_raises_before_any_byte(acc):
    from systolic.sim.engine_tiling import JobError
    a, b = random_operands(acc.config, 129, 8, 8, seed=2)
    before = acc.stats()
    with pytest.raises(JobError, match="M=129 > 128"):
        acc.matmul(a, b, tiling=False)
    assert acc.stats()["bytes_out"] == before["bytes_out"]
    a, b = random_operands(acc.config, 32, 128, 32, seed=2)
    assert_matmul(acc, a, b)   # what fits still runs


def test_missing_port_raises_port_error():
    with pytest.raises(PortError, match="cannot open serial port") as caught:
        Accelerator.open("/dev/nonexistent-systolic-port")
    assert isinstance(caught.value, OSError)


def test_port_without_a_board_times_out_quickly():
    master, slave = os.openpty()          # a line nobody answers on
    try:
        tty.setraw(slave)
        started = time.monotonic()
        with pytest.raises(BoardTimeout, match="no reply from the board to a PING") as caught:
            Accelerator.open(os.ttyname(slave), timeout=0.2, retries=1)
        assert isinstance(caught.value, TimeoutError)
        assert time.monotonic() - started < 3
    finally:
        os.close(master)
        os.close(slave)


def test_closed_accelerator_refuses_work():
    with Accelerator.virtual() as acc:
        board = acc.board
        assert board.running
    assert not board.running                 # leaving the block stopped the simulation
    with pytest.raises(AcceleratorError, match="closed"):
        acc.matmul(np.ones((1, 1), dtype=int), np.ones((1, 1), dtype=int))


def _amaranth_loaded():
    return "; print(sorted(m for m in sys.modules if m.split('.')[0] == 'amaranth')[:3])"


def test_import_systolic_host_stays_light():
    code = ("import sys, systolic.host; "
            "heavy = [m for m in ('numpy', 'serial', 'amaranth', 'systolic.host.driver') "
            "if m in sys.modules]; print(heavy); "
            "from systolic.host import Accelerator; print(Accelerator.__module__)"
            + _amaranth_loaded())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "systolic.host.driver", "[]"]


def test_systolic_help_imports_no_amaranth():
    # `systolic --help` builds every command's parser: none of them may load the gateware.
    code = ("import sys, contextlib, io\nfrom systolic.host.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    try:\n        main(['--help'])\n    except SystemExit:\n        pass\n"
            "print('systolic' in sys.modules)" + _amaranth_loaded())
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["True", "[]"]


# The `systolic run` command -------------------------------------------------------------------------

def test_cli_run_virtual_matches_numpy(run_cli):
    import json
    status, out, _ = run_cli("run", "--virtual", "--m", "37", "--k", "53", "--n", "29", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["match"] is True and report["numpy_exact"] is True
    assert report["bytes_to_board"] > 37 * 53 + 53 * 29      # operands, framed
    assert report["bytes_from_board"] > 4 * 37 * 29          # one 32-bit word a result
    assert report["retries"] == 0
    assert report["line_rate_fraction"] is None               # a pty has no line rate
    estimate = report["uart_estimate"]
    assert 0.5 < estimate["line_rate_fraction"] < 1
    assert report["macs"] == 37 * 53 * 29 and report["macs_per_s"] > 0


def test_cli_run_port_reports_line_rate(run_cli):
    import json
    from systolic.host.virtual_board import VirtualBoard
    with VirtualBoard() as board:
        status, out, _ = run_cli("run", "--port", board.port, "--baud", "115200", "--m", "8",
                                 "--k", "40", "--n", "8", "--json")
    assert status == 0
    report = json.loads(out)
    assert report["match"] is True and report["baud"] == 115200
    # A pty is much faster than 115200 baud, so the "fraction" exceeds 1: it is only
    # meaningful on a real line, but it is computed the same way.
    # A pseudo-terminal moves bytes faster than any baud: no share of a line is claimed.
    assert report["line_rate_fraction"] is None or 0 < report["line_rate_fraction"] <= 1


@pytest.mark.parametrize("argv, message", [
    (["--virtual", "--m", "0", "--k", "2", "--n", "2"], "argument --m"),
    (["--port", "/dev/nonexistent-systolic-port", "--m", "2", "--k", "2", "--n", "2"],
     "cannot open serial port"),
    (["--port", "/dev/ttyUSB9", "--rows", "8", "--m", "2", "--k", "2", "--n", "2"],
     "--rows describe(s) a virtual board"),
    (["--virtual", "--m", "2", "--k", "2", "--n", "2", "--baud", "-5"], "argument --baud"),
    (["--virtual", "--m", "140", "--k", "2", "--n", "2", "--no-tiling"], "host tiling was turned off"),
    (["--virtual", "--k-depth", "0", "--m", "2", "--k", "2", "--n", "2"], "k_depth=0"),
])
def test_cli_run_bad_input_is_one_line_exit_2(run_cli, argv, message):
    status, out, err = run_cli("run", *argv)
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert out == ""


def test_throughput_arithmetic():
    from systolic.host.cmd_run import throughput_report, uart_estimate
    before = {"bytes_out": 0, "bytes_in": 0, "payload_out": 0, "payload_in": 0, "exchanges": 0,
              "retries": 0}
    after = {"bytes_out": 700, "bytes_in": 300, "payload_out": 600, "payload_in": 200,
             "exchanges": 10, "retries": 1}
    report = throughput_report(10, 10, 10, 0.5, before, after, baud=100_000)
    assert report["payload_bytes_per_s"] == 1600
    assert report["line_rate_fraction"] == pytest.approx(1600 / 10_000)
    assert report["payload_fraction_of_wire"] == pytest.approx(0.8)
    assert report["macs_per_s"] == 2000 and report["retries"] == 1
    estimate = uart_estimate(report, 100_000, turnaround_s=0.01)
    # 1000 bytes * 10 bits / 100 kbaud = 0.1 s, plus 10 turnarounds of 10 ms.
    assert estimate["seconds"] == pytest.approx(0.2)
    assert estimate["line_rate_fraction"] == pytest.approx(0.4)


def test_cli_run_needs_a_target(run_cli):
    status, _, err = run_cli("run", "--m", "2", "--k", "2", "--n", "2")
    assert status == 2 and "--port" in err
