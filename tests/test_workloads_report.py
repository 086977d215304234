"""``systolic workload``: per-layer cycles against the engine model and the RTL, outputs, cost."""

import csv
import io
import json

import numpy as np
import pytest

from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine_config import EngineConfig
from systolic.sim.engine_model import EngineModel
from systolic.sim.engine_perf import gemm_perf
from systolic.sim.engine_tiling import gemm_program
from systolic.workloads.layers import Network, gemm_layer
from systolic.workloads.report import (LAYER_FIELDS, SCALESIM_COLUMNS, TOTAL_FIELDS, link_bytes,
                                       mapping_efficiency, network_report)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
GEMM_CSV = "Layer, M, N, K,\nfc1, 12, 10, 40,\nfc2, 12, 7, 10,\nwide, 40, 36, 70,\n"
CONV_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nconv, 10, 10, 3, 3, 4, 8, 1,\nb_DP, 9, 9, 3, 3, 8, 1, 2,\n")


def _model_cycles(config, m, k, n):
    """Cycles of an m x k x n GEMM as ``systolic simulate`` models them: the event-level engine
    model on the host tiler's words, from the first START to the last result word."""
    program = gemm_program(np.zeros((m, k), dtype=np.int64), np.zeros((k, n), dtype=np.int64), config)
    trace = EngineModel(config).run(program.words)
    return trace.outputs[-1][0] - trace.accepted[program.first_start] + 1, trace.outputs[-1][0] + 1


@pytest.fixture
def gemm_csv(tmp_path):
    path = tmp_path / "net.csv"
    path.write_text(GEMM_CSV)
    return path


def _workload(run_cli, *argv):
    status, out, err = run_cli("workload", *argv, "--json")
    assert status == 0, err
    return json.loads(out)


def test_a_gemm_layer_has_the_cycles_systolic_simulate_measures_on_the_rtl(run_cli, gemm_csv):
    report = _workload(run_cli, gemm_csv)
    fc1 = report["layers"][0]
    status, out, err = run_cli("simulate", "--m", 12, "--k", 40, "--n", 10, "--json")
    assert status == 0, err
    simulated = json.loads(out)
    assert simulated["match"] and simulated["cycles_match"]
    assert fc1["cycles"] == simulated["cycles"] == simulated["model_cycles"]
    assert fc1["jobs"] == simulated["jobs"]


@pytest.mark.parametrize("design", [[], ["--rows", "8", "--cols", "4", "--k-depth", "16"],
                                    ["--rows", "2", "--cols", "6", "--pipeline", "1"]])
def test_every_layer_matches_the_event_level_engine_model(run_cli, gemm_csv, design):
    report = _workload(run_cli, gemm_csv, *design, "--clock-mhz", "50")
    config = EngineConfig.from_dict(report["config"])
    for row, (m, k, n) in zip(report["layers"], [(12, 40, 10), (12, 10, 7), (40, 70, 36)]):
        cycles, total = _model_cycles(config, m, k, n)
        assert (row["m"], row["k"], row["n"]) == (m, k, n)
        assert (row["cycles"], row["total_cycles"]) == (cycles, total)
        assert row["macs"] == m * k * n and row["ideal_cycles"] == m * k * n / config.array.macs
        assert row["efficiency"] == pytest.approx(m * k * n / config.array.macs / cycles)
        assert row["time_s"] == pytest.approx(total / 50e6)
    totals = report["totals"]
    assert totals["total_cycles"] == sum(r["total_cycles"] for r in report["layers"])
    assert totals["latency_s"] == pytest.approx(totals["total_cycles"] / 50e6)
    assert totals["inferences_per_s"] == pytest.approx(1 / totals["latency_s"])
    assert totals["sustained_gops"] == pytest.approx(2 * totals["macs"] / totals["latency_s"] / 1e9)


SPREAD_DESIGNS = [
    EngineConfig(),
    EngineConfig(ArrayConfig(rows=2, cols=3), k_depth=16, m_blocks=2, n_blocks=3),
    EngineConfig(ArrayConfig(rows=4, cols=2, pipeline=1), k_depth=8, buffer_ram="distributed"),
]
SPREAD_SHAPES = [(1, 1, 1), (5, 3, 7), (33, 65, 17), (64, 100, 40), (9, 200, 3)]


@pytest.mark.parametrize("config", SPREAD_DESIGNS, ids=lambda c: c.describe()[:24])
@pytest.mark.parametrize("m, k, n", SPREAD_SHAPES)
def test_the_per_shape_figures_equal_the_event_level_model(config, m, k, n):
    # Whatever path gemm_figures takes (today the event-level model itself, later a closed
    # form), it must give the event-level engine model's cycles and word counts.
    from systolic.workloads.report import gemm_figures
    figures = gemm_figures(config, m, k, n)
    program = gemm_program(np.zeros((m, k), dtype=np.int64), np.zeros((k, n), dtype=np.int64), config)
    assert (figures.cycles, figures.total_cycles) == _model_cycles(config, m, k, n)
    assert (figures.words_in, figures.words_out, figures.jobs) == (
        len(program.words), program.result_words, len(program.jobs))


def test_groups_and_batch_multiply_the_one_gemm(run_cli, tmp_path):
    path = tmp_path / "conv.csv"
    path.write_text(CONV_CSV)
    report = _workload(run_cli, path, "--batch", "3")
    conv, depthwise = report["layers"]
    assert (conv["m"], conv["k"], conv["n"], conv["gemms"]) == (3 * 64, 36, 8, 1)
    assert (depthwise["m"], depthwise["k"], depthwise["n"], depthwise["gemms"]) == (3 * 16, 9, 1, 8)
    config = EngineConfig()
    cycles, total = _model_cycles(config, 3 * 16, 9, 1)
    assert (depthwise["cycles"], depthwise["total_cycles"]) == (8 * cycles, 8 * total)
    assert depthwise["macs"] == 3 * 16 * 9 * 8
    assert report["batch"] == 3 and report["totals"]["macs"] == 3 * (64 * 36 * 8 + 16 * 9 * 8)


def test_a_network_asks_the_engine_model_once_per_shape(monkeypatch):
    from systolic.workloads import report as report_module
    asked = []

    def counting(config, m, k, n):       # the real gemm_perf, counted
        asked.append((m, k, n))
        return gemm_perf(config, m, k, n)
    monkeypatch.setattr(report_module, "gemm_perf", counting)
    layers = tuple(gemm_layer(f"l{i}", 8, 16, 8) for i in range(5)) + (gemm_layer("x", 4, 4, 4),)
    config = EngineConfig(ArrayConfig(rows=2, cols=3), k_depth=7)    # a design no other test uses
    report = network_report(Network("rep", layers), config)
    assert report["shapes"] == 2 and sorted(asked) == [(4, 4, 4), (8, 16, 8)]
    assert len({row["cycles"] for row in report["layers"][:5]}) == 1
    again = network_report(Network("rep", layers), config)
    assert len(asked) == 2 and again["layers"] == report["layers"]


@pytest.mark.parametrize("m, n, rows, cols, expected", [(12, 10, 4, 4, 120 / (12 * 12)),
                                                        (16, 16, 4, 4, 1.0), (1, 1, 8, 8, 1 / 64)])
def test_mapping_efficiency(m, n, rows, cols, expected):
    assert mapping_efficiency(m, n, rows, cols) == pytest.approx(expected)


def test_link_bytes_counts_the_frames():
    # 100 words in (400 bytes: two WRITE frames of at most 256, each with its ACK), 10 words
    # back (one READ request of 9 bytes, one DATA frame); 7 bytes of header and CRC a frame.
    assert link_bytes(100, 10, 4, 256) == 400 + 40 + 2 * (7 + 7) + (9 + 7)


def test_csv_has_our_columns_and_scalesims(run_cli, gemm_csv, tmp_path):
    out = tmp_path / "layers.csv"
    report = _workload(run_cli, gemm_csv, "--csv", out)
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == [*LAYER_FIELDS, *SCALESIM_COLUMNS]
    for row, layer in zip(rows, report["layers"]):
        assert int(row["LayerID"]) == layer["layer_id"] and int(row["Total Cycles"]) == layer["total_cycles"]
        assert float(row["Compute Util %"]) == pytest.approx(100 * layer["efficiency"])
        assert float(row["Overall Util %"]) == pytest.approx(100 * layer["sustained_efficiency"])
        assert float(row["Mapping Efficiency %"]) == pytest.approx(100 * layer["mapping_efficiency"])
        assert int(row["cycles"]) == layer["cycles"]


def test_json_text_and_plot(run_cli, gemm_csv, tmp_path):
    plot = tmp_path / "layers.png"
    report = _workload(run_cli, gemm_csv, "--plot", plot, "--clock-mhz", "30")
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert set(report["totals"]) == set(TOTAL_FIELDS)
    assert all(set(row) == set(LAYER_FIELDS) for row in report["layers"])
    status, out, _ = run_cli("workload", gemm_csv, "--clock-mhz", "30")
    assert status == 0
    assert "inferences/s" in out and "fc1" in out and "wide" in out


def test_cost_and_energy_per_million_inferences(run_cli, gemm_csv):
    report = _workload(run_cli, gemm_csv, "--clock-mhz", "30", "--device", "iCE40UP5K",
                       "--power", "0.1", "--lifetime-years", "2", "--usd-per-kwh", "0.2")
    rows = {row["name"]: row for row in report["cost"]["rows"]}
    fpga = rows["this design on iCE40UP5K"]
    rate = report["totals"]["inferences_per_s"]
    seconds = 1e6 / rate
    assert fpga["inferences_per_s"] == pytest.approx(rate)
    assert fpga["energy_kwh"] == pytest.approx(0.1 * seconds / 3.6e6)
    assert fpga["energy_usd"] == pytest.approx(0.2 * fpga["energy_kwh"])
    assert fpga["hardware_usd"] == pytest.approx(fpga["price_usd"] * seconds / (2 * 365.25 * 86400))
    assert fpga["usd"] == pytest.approx(fpga["hardware_usd"] + fpga["energy_usd"])
    asic = next(row for name, row in rows.items() if name.startswith("ASIC"))
    assert asic["power_w"] < 0.1 and asic["price_usd"] > 0
    a100 = rows["NVIDIA A100 SXM"]
    assert a100["inferences_per_s"] == pytest.approx(624e12 / (2 * report["totals"]["macs"]))
    assert {a["name"] for a in report["cost"]["assumptions"]} >= {"lifetime_years", "usd_per_kwh"}
    assert all(a["source"] for a in report["cost"]["assumptions"])


def test_from_build_takes_design_clock_and_device(run_cli, gemm_csv, tmp_path):
    engine = EngineConfig(ArrayConfig(rows=2, cols=2), k_depth=16)
    build = {"board": "icebreaker", "device": "iCE40UP5K", "fits": True,
             "lut": {"used": 1500, "available": 5280}, "ff": {"used": 800, "available": 5280},
             "dsp": {"used": 2, "available": 8}, "bram": {"used": 10, "available": 30},
             "fmax_mhz": 31.0, "target_mhz": 24, "timing_met": True, "macs": 4,
             "config": engine.array.to_dict(), "engine": engine.to_dict(), "baud": 115200}
    path = tmp_path / "build.json"        # constructed in the shape of 'systolic build --json'
    path.write_text(json.dumps(build))
    report = _workload(run_cli, gemm_csv, "--from-build", path)
    assert EngineConfig.from_dict(report["config"]) == engine
    assert report["clock_hz"] == 24e6 and report["baud"] == 115200
    assert report["cost"]["rows"][0]["name"] == "this design on iCE40UP5K"


@pytest.mark.parametrize("board", ["icebreaker", "ulx3s-85f"])
def test_board_takes_its_default_build(run_cli, gemm_csv, board):
    from systolic.boards import catalog
    from systolic.boards.platforms import board as get_board
    from systolic.boards.top import default_clock_hz, default_engine_config
    report = _workload(run_cli, gemm_csv, "--board", board)
    assert EngineConfig.from_dict(report["config"]) == default_engine_config(board)
    assert report["clock_hz"] == default_clock_hz(board)
    # The cost model prices the smallest device of the board's FPGA family that holds the
    # design; a device without a catalog price gives a note instead of a cost.
    if report["cost"] is None:
        assert "price for" in report["cost_note"] and "--fpga-unit" in report["cost_note"]
        report = _workload(run_cli, gemm_csv, "--board", board, "--fpga-unit", "30")
    device = next(a["value"] for a in report["cost"]["cost_assumptions"] if a["name"] == "device")
    family = catalog.device(get_board(board).device)["family"]
    assert catalog.device(device)["family"] == family
    assert report["cost"]["rows"][0]["name"] == f"this design on {device}"
    wide = _workload(run_cli, gemm_csv, "--board", board, "--rows", "2", "--cols", "2",
                     "--clock-mhz", "10")
    assert EngineConfig.from_dict(wide["config"]) == default_engine_config(
        board, ArrayConfig(rows=2, cols=2))
    assert wide["clock_hz"] == 10e6


@pytest.mark.parametrize("argv, message", [
    (["--batch", "0"], "--batch 0 is out of range"),
    (["--device", "iCE40UP5K"], "need a clock"),
    (["--from-build", "x.json", "--rows", "8"], "excludes array and engine options"),
    (["--baud", "0"], "--baud 0"),
    (["--rows", "0"], "rows"),
    (["--board", "nope"], "unknown board 'nope'"),
    (["--board", "icebreaker", "--from-build", "x.json"], "exclude each other"),
])
def test_bad_options_exit_2_with_one_line(run_cli, gemm_csv, argv, message):
    status, out, err = run_cli("workload", gemm_csv, *argv)
    assert status == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    ("Layer, M, N, K,\nfc1, 12, 10, 40,\nfc2, 12, ten, 40,\n", "line 3: N='ten'"),
    (b"\x08\x96\x01\xff\xfe not a model", "not an ONNX model"),
])
def test_bad_files_exit_2_naming_the_problem(run_cli, tmp_path, content, message):
    path = tmp_path / ("bad.csv" if isinstance(content, str) else "bad.onnx")
    path.write_text(content) if isinstance(content, str) else path.write_bytes(content)
    out_csv = tmp_path / "out.csv"
    status, out, err = run_cli("workload", path, "--csv", out_csv)
    assert status == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not out_csv.exists()


def test_outputs_never_replace_inputs_or_directories(run_cli, gemm_csv, tmp_path):
    before = gemm_csv.read_text()
    status, _, err = run_cli("workload", gemm_csv, "--csv", gemm_csv)
    assert status == 2 and "is also FILE" in err and gemm_csv.read_text() == before
    status, _, err = run_cli("workload", gemm_csv, "--plot", tmp_path)
    assert status == 2 and "is a directory" in err
    status, _, err = run_cli("workload", tmp_path / "missing.csv")
    assert status == 2 and "no such file" in err and "resnet50" in err


def test_onnx_resnet50_graph_maps_every_layer(run_cli):
    onnx = pytest.importorskip("onnx")
    from pathlib import Path
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    from systolic.workloads import load_network
    network = load_network(model)
    assert len(network.layers) == 53 + 1
    assert ("BatchNormalization", 53) in network.not_mapped


@pytest.mark.slow
def test_onnx_resnet50_report_on_16x16(run_cli):
    onnx = pytest.importorskip("onnx")
    from pathlib import Path
    model = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    report = _workload(run_cli, model, "--rows", "16", "--cols", "16", "--clock-mhz", "100")
    assert len(report["layers"]) == 54 and report["totals"]["macs"] == 4_089_184_256
    assert report["not_mapped"]["BatchNormalization"] == 53
