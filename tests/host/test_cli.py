"""The ``systolic`` command line: generate, simulate, demo, and how it treats bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from systolic.rtl.config import ArrayConfig
from systolic.sim.model import matmul


def test_generate_writes_a_verilog_module(run_cli, tmp_path):
    target = tmp_path / "out" / "array.v"
    status, out, _ = run_cli("generate", "--rows", "2", "--cols", "3", "--width", "4",
                             "--unsigned", "-o", str(target), "--json")
    assert status == 0
    summary = json.loads(out)
    assert summary["config"]["rows"] == 2 and summary["config"]["signed"] is False
    text = target.read_text()
    assert "module systolic_array(" in text
    # Operand payload: 2 rows x 4 bits + 3 cols x 4 bits + last = 21 bits; result 3 x acc + 1.
    assert "input [20:0] i_stream__payload;" in text
    acc = ArrayConfig(rows=2, cols=3, a_width=4, b_width=4, signed=False).acc_width
    assert f"output [{3 * acc}:0] o_stream__payload;" in text
    assert [p.name for p in target.parent.iterdir()] == ["array.v"]   # no temporary left over


def test_simulate_random_json(run_cli):
    status, out, _ = run_cli("simulate", "--rows", "3", "--cols", "5", "--m", "7",
                             "--k", "9", "--n", "11", "--seed", "4", "--json")
    assert status == 0
    report = json.loads(out)
    for key in ("match", "cycles", "model_cycles", "ideal_cycles", "backend", "wall_s"):
        assert key in report
    assert report["match"] is True
    assert report["cycles"] == report["model_cycles"]
    assert report["ideal_cycles"] == pytest.approx(7 * 9 * 11 / 15)
    assert report["backend"] == "amaranth"
    # The engine is the default target (tests/host/test_cmd_simulate.py covers it and --target array).
    assert report["target"] == "engine" and report["jobs"] == 1


def test_simulate_from_npy_files_writes_the_result(run_cli, tmp_path):
    rng = np.random.default_rng(8)
    a = rng.integers(0, 16, size=(5, 6), dtype=np.uint8)
    b = rng.integers(0, 16, size=(6, 4), dtype=np.int16)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    out_path = tmp_path / "c.npy"
    status, out, _ = run_cli("simulate", "--rows", "2", "--cols", "2", "--width", "4",
                             "--unsigned", "--a", str(tmp_path / "a.npy"), "--b",
                             str(tmp_path / "b.npy"), "--out", str(out_path))
    assert status == 0
    assert "matches" in out
    config = ArrayConfig(rows=2, cols=2, a_width=4, b_width=4, signed=False)
    assert np.array_equal(np.load(out_path), matmul(a, b, config))
    assert np.array_equal(np.load(out_path), a.astype(int) @ b.astype(int))


def _bad_inputs(tmp_path):
    np.save(tmp_path / "ok_a.npy", np.ones((3, 4), dtype=np.int8))
    np.save(tmp_path / "ok_b.npy", np.ones((4, 2), dtype=np.int8))
    np.save(tmp_path / "float.npy", np.ones((3, 4)))
    np.save(tmp_path / "big.npy", np.full((3, 4), 300))
    np.save(tmp_path / "wrong_k.npy", np.ones((5, 2), dtype=np.int8))
    np.save(tmp_path / "empty.npy", np.ones((0, 4), dtype=np.int8))
    (tmp_path / "garbage.npy").write_bytes(b"this is not numpy")
    return {
        "missing file": (["--a", "nope.npy", "--b", "ok_b.npy"], "no such file"),
        "unreadable file": (["--a", "garbage.npy", "--b", "ok_b.npy"], "not a .npy file"),
        "float dtype": (["--a", "float.npy", "--b", "ok_b.npy"], "integer dtype"),
        "out of range": (["--a", "big.npy", "--b", "ok_b.npy"], "operand range"),
        "inner dimensions": (["--a", "ok_a.npy", "--b", "wrong_k.npy"], "inner dimensions"),
        "empty matrix": (["--a", "empty.npy", "--b", "ok_b.npy"], "empty"),
        "only one file": (["--a", "ok_a.npy"], "both --a and --b"),
        "bad rows": (["--rows", "0"], "rows=0"),
        "bad acc width": (["--acc-width", "9"], "acc_width=9"),
        "bad m": (["--m", "0"], "argument --m"),
    }


@pytest.mark.parametrize("case", [
    "missing file", "unreadable file", "float dtype", "out of range", "inner dimensions",
    "empty matrix", "only one file", "bad rows", "bad acc width", "bad m"])
def test_bad_input_is_one_line_and_status_2(run_cli, case, tmp_path, monkeypatch):
    args, message = _bad_inputs(tmp_path)[case]
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli("simulate", *args, "--out", "c.npy")
    assert status == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "c.npy").exists()
    assert not list(tmp_path.glob(".c.npy.*"))


def test_console_script_exit_status_and_help():
    exe = shutil.which("systolic", path=str(Path(sys.executable).parent))
    assert exe, "the systolic console script is not installed next to the interpreter"
    done = subprocess.run([exe, "simulate", "--rows", "300"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == "systolic simulate: error: rows=300 is invalid: must be from 1 to 256"
    done = subprocess.run([exe, "generate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--acc-width" in done.stdout
    done = subprocess.run([exe, "simulate", "--overflow", "clip"], capture_output=True, text=True)
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_demo_quick(run_cli, tmp_path):
    status, out, _ = run_cli("demo", "--quick", "--out", str(tmp_path))
    assert status == 0
    assert "on the GEMM engine" in out
    assert "result vs numpy: MATCH" in out
    assert "bitstream: skipped (--quick)" in out
    assert "Breakeven at" in out
    assert "systolic infer --virtual" in out and "systolic workload" in out
    assert (tmp_path / "systolic_array.v").exists()
    assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "icebreaker").exists()


@pytest.mark.slow
def test_demo_ends_in_a_bitstream(run_cli, tmp_path):
    """``make demo``: the real iCEBreaker build, then the cost from its own report."""
    status, out, err = run_cli("demo", "--out", str(tmp_path))
    assert status == 0, err
    build = json.loads((tmp_path / "icebreaker" / "build.json").read_text())
    assert Path(build["bitstream"]).is_file()
    for stage in ("synthesis", "placement", "routing", "packing"):
        assert f"systolic: {stage}" in err
    assert f"peak {build['peak_gops']:g} GOPS" in out
    assert f"cost: this build (iCE40UP5K, from {build['report']})" in out
    assert "Breakeven at" in out and out.rstrip().endswith("demo: OK")


def test_run_takes_the_boards_default_rate(run_cli):
    """``systolic run --board NAME``: the board's default link rate, unless --baud says."""
    from systolic.boards.top import default_baud
    status, out, err = run_cli("run", "--virtual", "--board", "ecpix5-85", "--m", "4", "--k",
                               "8", "--n", "4", "--json")
    assert status == 0, err
    assert json.loads(out)["uart_estimate"]["baud"] == default_baud("ecpix5-85") == 12_000_000
    status, out, err = run_cli("run", "--virtual", "--board", "nope", "--m", "4", "--k", "8",
                               "--n", "4")
    assert status == 2 and out == ""
    line, = err.strip().splitlines()
    assert "--board" in line and "unknown board 'nope'" in line


def _imports(path):
    """The modules ``path`` imports, relative ones resolved within systolic.host."""
    import ast
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module or ""
                names |= {base} if base else {alias.name for alias in node.names}
            elif node.level == 0 and node.module:
                names.add(node.module.removeprefix("systolic.host."))
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_commands_share_library_modules_not_each_other():
    # Each cmd_* module is one command's CLI; what two commands share lives in a library module.
    import systolic.host as host
    folder = Path(host.__file__).parent
    for path in sorted(folder.glob("cmd_*.py")):
        others = {name for name in _imports(path) if name.startswith("cmd_")}
        assert not others, f"{path.name} imports {sorted(others)}"
    # and the virtual board does not import the driver that starts it
    assert "driver" not in _imports(folder / "virtual_board.py")
