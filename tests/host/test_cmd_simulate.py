"""``systolic simulate`` on the GEMM engine: ``--target``, the engine options, ``--no-tiling``."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import saturate_every_step, saturation_case
from systolic.rtl.config import DATAFLOWS, ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.sim.engine_model import EngineModel, engine_matmul
from systolic.sim.engine_tiling import gemm_program
from systolic.sim.model import gemm_cycles, ideal_cycles, matmul
from systolic.sim.backends.verilog_build import ICARUS_HINT

#: The builds of tests/sim/test_verilog_engine.py: the same design compiles once for both.
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "test-engine-verilator"
ICARUS_MISSING = shutil.which("iverilog") is None

#: Every key the report had before the engine, and the ones the engine added.
ARRAY_KEYS = {"match", "cycles", "model_cycles", "ideal_cycles", "efficiency", "backend", "wall_s",
              "build_s", "sim_macs_per_s", "m", "k", "n", "config", "cycles_match"}
ENGINE_KEYS = {"target", "engine", "jobs"}

#: The array and buffers of test_engine_verilator's SMALL config, as options.
SMALL_OPTIONS = ["--rows", "3", "--cols", "5", "--k-depth", "16", "--m-blocks", "3",
                 "--n-blocks", "2"]
SMALL = EngineConfig(ArrayConfig(rows=3, cols=5), k_depth=16, m_blocks=3, n_blocks=2)


def simulate_json(run_cli, *args):
    status, out, err = run_cli("simulate", *args, "--json")
    assert status == 0, err
    return json.loads(out)


def random_operands(config, m, k, n, seed):
    rng = np.random.default_rng(seed)
    return (rng.integers(*config.a_range, size=(m, k), endpoint=True),
            rng.integers(*config.b_range, size=(k, n), endpoint=True))


def test_the_engine_is_the_default_target(run_cli):
    report = simulate_json(run_cli, *SMALL_OPTIONS, "--m", "11", "--k", "20", "--n", "12",
                           "--seed", "3")
    assert ARRAY_KEYS | ENGINE_KEYS <= set(report)
    assert report["target"] == "engine" and report["backend"] == "amaranth"
    assert report["engine"] == SMALL.to_dict()
    assert report["config"] == SMALL.array.to_dict()
    # 11 x 20 x 12 is over the buffers in every dimension: 2 x 2 blocks, 2 K chunks.
    assert report["jobs"] == 8
    a, b = random_operands(SMALL.array, 11, 20, 12, seed=3)
    program = gemm_program(a, b, SMALL)
    trace = EngineModel(SMALL).run(program.words)
    assert report["model_cycles"] == trace.outputs[-1][0] - trace.accepted[program.first_start] + 1
    assert report["cycles"] == report["model_cycles"] and report["cycles_match"] is True
    assert report["match"] is True and report["matmul_match"] is True
    assert report["ideal_cycles"] == pytest.approx(11 * 20 * 12 / 15)
    assert report["efficiency"] == pytest.approx(report["ideal_cycles"] / report["cycles"])


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_target_array_keeps_the_bare_array_path(run_cli, dataflow):
    report = simulate_json(run_cli, "--target", "array", "--rows", "3", "--cols", "5",
                           "--m", "7", "--k", "9", "--n", "11", "--dataflow", dataflow)
    assert ARRAY_KEYS | ENGINE_KEYS <= set(report)
    assert (report["target"], report["engine"], report["jobs"]) == ("array", None, None)
    config = ArrayConfig(rows=3, cols=5, dataflow=dataflow)
    assert report["config"] == config.to_dict()
    assert report["cycles"] == report["model_cycles"] == gemm_cycles(7, 9, 11, config)
    assert report["match"] is True


@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_target_array_on_verilator_from_files(run_cli, tmp_path, dataflow):
    # The odd shape from .npy files, saturating: bits and cycles are the model's.
    config = ArrayConfig(rows=3, cols=5, acc_width=18, overflow="saturate", dataflow=dataflow)
    a, b = random_operands(config, 37, 53, 29, seed=18)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    report = simulate_json(run_cli, "--target", "array", "--rows", "3", "--cols", "5",
                           "--acc-width", "18", "--overflow", "saturate", "--dataflow", dataflow,
                           "--backend", "verilator", "--a", str(tmp_path / "a.npy"),
                           "--b", str(tmp_path / "b.npy"), "--out", str(tmp_path / "c.npy"))
    assert report["match"] and report["cycles"] == report["model_cycles"]
    assert report["model_cycles"] == gemm_cycles(37, 53, 29, config)
    assert np.array_equal(np.load(tmp_path / "c.npy"), matmul(a, b, config))


def test_engine_options_shape_the_jobs(run_cli):
    # One buffer block and K chunks of 2: 7 x 5 x 6 on 2 x 2 is 4 x 3 blocks x 3 chunks.
    report = simulate_json(run_cli, "--rows", "2", "--cols", "2", "--k-depth", "2",
                           "--m-blocks", "1", "--n-blocks", "1", "--m", "7", "--k", "5", "--n", "6")
    assert report["engine"]["k_depth"] == 2 and report["engine"]["m_blocks"] == 1
    assert report["jobs"] == 4 * 3 * 3
    assert report["match"] and report["cycles_match"]


@pytest.mark.parametrize("depth", [32, 50])
def test_saturation_is_the_same_whatever_the_buffers(run_cli, tmp_path, depth):
    """The reproduction of issue 15: `--k-depth 50` and `--k-depth 32` gave -1 and 32766 where
    the bare array gives 32767. Now every path clamps at every step of the whole K."""
    array, a, b = saturation_case()
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out = tmp_path / "c.npy"
    report = simulate_json(run_cli, "--acc-width", "16", "--overflow", "saturate", "--k-depth",
                           depth, "--a", tmp_path / "a.npy", "--b", tmp_path / "b.npy",
                           "--out", out)
    assert report["match"] is True and report["matmul_match"] is True
    lo, hi = array.acc_range
    assert np.load(out).tolist() == saturate_every_step(a, b, lo, hi)
    assert np.load(out)[0, 3] == hi
    array_out = tmp_path / "array.npy"
    simulate_json(run_cli, "--acc-width", "16", "--overflow", "saturate", "--target", "array",
                  "--a", tmp_path / "a.npy", "--b", tmp_path / "b.npy", "--out", array_out)
    assert np.array_equal(np.load(out), np.load(array_out))


def test_no_tiling_refuses_a_gemm_over_the_buffers(run_cli, tmp_path, monkeypatch):
    # On Verilator, to show the refusal comes before any compiling: the build root stays empty.
    monkeypatch.setenv("SYSTOLIC_BUILD_DIR", str(tmp_path / "builds"))
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("simulate", *SMALL_OPTIONS, "--m", "37", "--k", "53", "--n", "29",
                               "--no-tiling", "--backend", "verilator", "--out", "c.npy")
    assert status == 2 and out == ""
    assert err.strip() == ("systolic simulate: error: a 37x53x29 GEMM does not fit the engine's "
                           "buffers (M=37 > 9, K=53 > 16, N=29 > 10) and host tiling was turned "
                           "off; drop --no-tiling, or raise --k-depth/--m-blocks/--n-blocks")
    assert not (tmp_path / "builds").exists() and not (tmp_path / "c.npy").exists()


def test_no_tiling_runs_a_gemm_that_fits(run_cli):
    report = simulate_json(run_cli, *SMALL_OPTIONS, "--m", "9", "--k", "16", "--n", "10",
                           "--no-tiling")
    assert report["jobs"] == 1 and report["match"] and report["cycles_match"]


@pytest.mark.parametrize("args, message", [
    (["--target", "array", "--k-depth", "8"], "--k-depth only apply to --target engine"),
    (["--target", "array", "--no-tiling", "--n-blocks", "2"],
     "--n-blocks, --no-tiling only apply to --target engine"),
    (["--k-depth", "0"], "k_depth=0"),
    (["--m-blocks", "5000"], "m_blocks=5000"),
    (["--fst", "x.fst"], "VCD only"),
    (["--target", "cpu"], "invalid choice"),
    (["--dataflow", "row-stationary"], "invalid choice"),
])
def test_bad_engine_input_is_one_line_and_status_2(run_cli, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("simulate", "--m", "2", "--k", "2", "--n", "2", *args)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.fixture
def shared_builds(monkeypatch):
    """Point the default build cache at test_engine_verilator's builds."""
    monkeypatch.setenv("SYSTOLIC_BUILD_DIR", str(BUILD_ROOT))


def test_engine_on_verilator(run_cli, shared_builds, dataflow, tmp_path):
    # Operands from files, on odd shapes: the results against numpy, the cycles the model's.
    a, b = random_operands(SMALL.array, 37, 53, 29, seed=5)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    report = simulate_json(run_cli, *SMALL_OPTIONS, "--a", tmp_path / "a.npy",
                           "--b", tmp_path / "b.npy", "--backend", "verilator",
                           "--dataflow", dataflow)
    assert report["backend"] == "verilator" and report["target"] == "engine"
    assert report["config"]["dataflow"] == dataflow and (report["m"], report["k"], report["n"]) == (
        37, 53, 29)
    assert report["jobs"] == 60
    assert report["match"] and report["matmul_match"] and report["cycles_match"]
    assert report["cycles"] == report["model_cycles"]
    assert report["efficiency"] == pytest.approx(ideal_cycles(37, 53, 29, SMALL.array)
                                                 / report["cycles"])
    assert report["sim_macs_per_s"] > 0


def test_engine_on_icarus(run_cli, shared_builds):
    args = ["simulate", *SMALL_OPTIONS, "--m", "5", "--k", "7", "--n", "6", "--backend", "icarus"]
    if ICARUS_MISSING:
        # Found before any work starts: one line, no progress lines before it.
        status, out, err = run_cli(*args)
        assert status == 2 and out == ""
        assert err.strip().splitlines() == [f"systolic simulate: error: {ICARUS_HINT}"]
    else:
        status, out, err = run_cli(*args, "--json")
        report = json.loads(out)
        assert status == 0 and report["backend"] == "icarus"
        assert report["match"] and report["cycles_match"]


@pytest.mark.parametrize("options, shape", [
    (["--rows", "2", "--cols", "8"], (64, 2, 16)),      # short dot products, wide array
    (["--rows", "3", "--cols", "5"], (5, 40, 7)),       # few rows of A, deep dot products
])
def test_auto_dataflow_takes_the_faster_by_the_model(run_cli, options, shape):
    from systolic.sim.engine_perf import gemm_perf
    m, k, n = shape
    args = [*options, "--m", m, "--k", k, "--n", n, "--dataflow", "auto"]
    report = simulate_json(run_cli, *args)
    base = EngineConfig(ArrayConfig(rows=int(options[1]), cols=int(options[3])))
    cycles = {name: gemm_perf(EngineConfig(dataclasses.replace(base.array, dataflow=name)),
                              m, k, n).cycles for name in DATAFLOWS}
    chosen = min(DATAFLOWS, key=lambda name: cycles[name])
    choice = report["auto_dataflow"]
    assert choice["cycles"] == cycles and choice["chosen"] == chosen
    assert report["config"]["dataflow"] == chosen and report["engine"]["array"]["dataflow"] == chosen
    assert report["cycles"] == report["model_cycles"] == cycles[chosen] and report["match"]
    assert f"{cycles[chosen]:,} cycles" in choice["reason"]
    status, out, err = run_cli("simulate", *args)
    assert status == 0 and f"dataflow: {choice['reason']}" in out
