"""Peak, sustained and link figures: the job-level timing against the event-level engine model,
the link traffic against what the driver really sends, and the commands that report them."""

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from systolic.host import Accelerator
from systolic.host.throughput import link_traffic, parse_gemm, throughput
from systolic.rtl.config import ENGINE_DATAFLOWS, ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.sim.engine_model import EngineModel
from systolic.sim.engine_perf import gemm_perf
from systolic.sim.engine_tiling import gemm_program


@st.composite
def engine_configs(draw):
    array = ArrayConfig(rows=draw(st.integers(1, 6)), cols=draw(st.integers(1, 6)),
                        pipeline=draw(st.integers(0, 1)),
                        dataflow=draw(st.sampled_from(ENGINE_DATAFLOWS)))
    return EngineConfig(array, k_depth=draw(st.integers(1, 20)),
                        m_blocks=draw(st.integers(1, 4)), n_blocks=draw(st.integers(1, 4)),
                        buffer_ram=draw(st.sampled_from(["block", "distributed"])),
                        buffer_latency=draw(st.sampled_from([1, 2])))


@settings(max_examples=150, deadline=None)
@given(config=engine_configs(), m=st.integers(1, 40), k=st.integers(1, 40), n=st.integers(1, 40))
def test_gemm_perf_is_the_event_level_model(config, m, k, n):
    """The job-level timing gives the word-level model's cycles on the host program's words."""
    program = gemm_program(np.zeros((m, k), dtype=int), np.zeros((k, n), dtype=int), config)
    trace = EngineModel(config).run(program.words, values=False)
    perf = gemm_perf(config, m, k, n)
    last = trace.outputs[-1][0]
    assert perf.cycles == last - trace.accepted[program.first_start] + 1
    assert perf.total_cycles == last + 1
    assert perf.words_in == len(program.words) and perf.words_out == m * n
    assert perf.jobs == len(program.jobs)


def test_gemm_perf_of_a_large_gemm_is_quick_and_near_ideal():
    perf = gemm_perf(EngineConfig(ArrayConfig(rows=16, cols=16)), 4096, 4096, 4096)
    assert perf.ideal_cycles == 4096 ** 3 / 256
    assert 0.99 < perf.efficiency <= 1


@pytest.fixture(scope="module")
def acc():
    with Accelerator.virtual() as acc:
        yield acc


@pytest.mark.parametrize("m, k, n", [(5, 7, 3), (129, 200, 70)])
def test_link_traffic_is_what_the_driver_sends(acc, m, k, n):
    rng = np.random.default_rng(m)
    a = rng.integers(-128, 128, (m, k))
    b = rng.integers(-128, 128, (k, n))
    acc.reset()
    before = acc.stats()
    np.testing.assert_array_equal(acc.matmul(a, b), a @ b)
    after = acc.stats()
    traffic = link_traffic(acc.config, m, k, n, max_payload=acc.info().max_payload)
    assert traffic.bytes_to_board == after["bytes_out"] - before["bytes_out"]
    assert traffic.bytes_from_board == after["bytes_in"] - before["bytes_in"]
    assert traffic.exchanges == after["exchanges"] - before["exchanges"]


def test_throughput_figures_add_up():
    config = EngineConfig(ArrayConfig(rows=8, cols=8))
    figures = throughput(config, 150e6, gemm=(100, 300, 70), baud=3_000_000)
    perf = gemm_perf(config, 100, 300, 70)
    operations = 2 * 100 * 300 * 70
    assert figures["peak_gops"] == pytest.approx(2 * 64 * 0.15)
    assert figures["sustained_gops"] == pytest.approx(operations * 150e6 / perf.total_cycles / 1e9)
    assert figures["sustained_efficiency"] == pytest.approx(perf.ideal_cycles / perf.total_cycles)
    link = figures["sustained"]["link"]
    seconds = ((link["bytes_to_board"] + link["bytes_from_board"]) * 10 / 3e6
               + perf.total_cycles / 150e6)
    assert figures["link_gops"] == pytest.approx(operations / seconds / 1e9)
    assert figures["link_gops"] < figures["sustained_gops"] <= figures["peak_gops"]
    assert throughput(config, 150e6)["link_gops"] is None


@pytest.mark.parametrize("text", ["1,2", "1,2,3,4", "0,1,1", "a,b,c", "1,,2", "-1,2,3"])
def test_parse_gemm_refuses_what_is_not_three_positive_integers(text):
    with pytest.raises(ValueError, match="M,K,N"):
        parse_gemm(text)


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s-85f"])
def test_report_board_prints_the_three_figures(run_cli, board):
    status, out, err = run_cli("report", "--board", board, "--json")
    assert status == 0, err
    result = json.loads(out)
    assert 0 < result["link_gops"] < result["sustained_gops"] <= result["peak_gops"]
    assert result["sustained_efficiency"] == pytest.approx(
        result["sustained_gops"] / result["peak_gops"])
    assert result["design"]["sustained"]["gemm"] == {"m": 256, "k": 256, "n": 256}
    # Issue 17: a board default sustains at least 0.90 of its peak on 256^3.
    assert result["sustained_efficiency"] >= 0.90
    status, text, _ = run_cli("report", "--board", board, "--gemm", "64,128,32")
    assert status == 0 and "64x128x32 GEMM" in text and "sustained" in text


def test_simulate_json_has_the_figures(run_cli):
    status, out, err = run_cli("simulate", "--m", "9", "--k", "10", "--n", "7", "--gemm",
                               "64,64,64", "--clock-mhz", "50", "--json")
    assert status == 0, err
    result = json.loads(out)
    config = EngineConfig.from_dict(result["engine"])
    perf = gemm_perf(config, 64, 64, 64)
    assert result["peak_gops"] == pytest.approx(2 * 16 * 0.05)
    assert result["sustained_gops"] == pytest.approx(2 * 64 ** 3 * 50e6 / perf.total_cycles / 1e9)
    assert math.isfinite(result["link_gops"])


@pytest.mark.parametrize("command", ["simulate", "report", "build"])
def test_a_bad_gemm_is_one_line_exit_2(run_cli, command):
    argv = {"simulate": ["--m", "2", "--k", "2", "--n", "2"], "report": ["--board", "icebreaker"],
            "build": ["--board", "icebreaker"]}[command]
    status, out, err = run_cli(command, *argv, "--gemm", "8,8")
    assert status == 2 and out == ""
    assert "--gemm" in err and len(err.strip().splitlines()) <= 2
