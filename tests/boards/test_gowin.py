"""Gowin boards: the rPLL search against apycula's gowin_pll, the himbaechel flow, real builds.

The default run builds the UART echo top for the Tang Nano 9K through the real toolchain
(Yosys ``synth_gowin``, nextpnr-himbaechel, gowin_pack); the engine builds of both Tang boards
take several minutes each and are marked ``slow``.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
from amaranth.hdl import Fragment, Instance

from systolic.boards import catalog
from systolic.boards.gowin import clock_nets, himbaechel_command
from systolic.boards.platforms import board
from systolic.boards.pll import GOWIN_LIMITS, GowinPLL, PLLError, gowin_pll, plan_clock
from systolic.boards.toolchain import ToolchainError, find_tool
from systolic.boards.top import default_array, default_baud, default_clock_hz

GOWIN_BOARDS = ["tang-nano-9k", "tang-primer-20k"]
#: apycula's names for the devices, speed grade included.
GOWIN_PLL_DEVICES = {"GW1NR-9": "GW1NR-9 C6/I5", "GW2A-18": "GW2A-18 C8/I7"}


def tool(name):
    try:
        return str(find_tool(name))
    except ToolchainError as exc:
        pytest.skip(str(exc))


# The rPLL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("device", list(GOWIN_LIMITS))
@pytest.mark.parametrize("f_out", [40.5, 50, 54, 60, 75, 100, 133.3, 200])
def test_gowin_pll_matches_gowin_pll(device, f_out, tmp_path):
    result = subprocess.run([tool("gowin_pll"), "-i", "27", "-o", str(f_out), "-d",
                             GOWIN_PLL_DEVICES[device]], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    expected = {key: int(value) for key, value in
                re.findall(r"\.(IDIV_SEL|FBDIV_SEL|ODIV_SEL)\((\d+)\)", result.stdout)}
    achieved = float(re.search(r"Achieved output frequency:\s*([\d.]+) MHz",
                               result.stdout).group(1))
    config = gowin_pll(27e6, f_out * 1e6, device=device)
    assert {"IDIV_SEL": config.idiv_sel, "FBDIV_SEL": config.fbdiv_sel,
            "ODIV_SEL": config.odiv_sel} == expected
    assert config.f_out / 1e6 == pytest.approx(achieved, abs=0.00051)
    assert config.f_out == pytest.approx(27e6 * (config.fbdiv_sel + 1) / (config.idiv_sel + 1))
    lo, hi = GOWIN_LIMITS[device]["f_vco"]
    assert lo < config.f_vco / 1e6 < hi


@pytest.mark.parametrize("kwargs, match", [
    ({"f_out_hz": 700e6}, "f_out=700 MHz"),
    ({"f_out_hz": 50e6, "device": "GW5A-25"}, "device"),
    ({"f_out_hz": 50.1e6, "max_error": 1e-4}, "within 0.01%"),
])
def test_gowin_pll_refuses(kwargs, match):
    with pytest.raises(PLLError, match=match):
        gowin_pll(27e6, **kwargs)


def test_gowin_pll_instance():
    config = plan_clock("gowin", 27e6, 54e6, device="GW1NR-9").pll
    inst, = [sub for sub, _, _ in Fragment.get(GowinPLL(config), None).subfragments
             if isinstance(sub, Instance)]
    assert inst.type == "rPLL"
    p = inst.parameters
    assert (p["IDIV_SEL"], p["FBDIV_SEL"], p["ODIV_SEL"]) == (0, 1, 8)    # VCO 432 MHz
    assert p["FCLKIN"] == "27"


# Boards and the flow (no toolchain) ----------------------------------------------------------

@pytest.mark.parametrize("name", GOWIN_BOARDS)
def test_gowin_boards(name):
    b = board(name)
    facts = catalog.device(b.device)
    assert b.family == "gowin" and b.pll_primitive == "rPLL"
    assert b.device in GOWIN_LIMITS
    # The default clock is made by the PLL exactly, and the link runs off the 27 MHz crystal.
    plan = b.clock_plan(default_clock_hz(b))
    assert plan.pll is not None and plan.error == 0
    assert default_baud(b) <= b.serial.max_baud
    assert default_array(b).macs <= 2 * facts["dsp"]    # two int8 PEs a 18 x 18 block


def test_himbaechel_command():
    amaranth = ["nextpnr-gowin", "--report", "top.report.json", "--seed", "3", "--log",
                "top.tim", "--device", "GW1NR-LV9QN88PC6/I5", "--family", "GW1N-9C", "--json",
                "top.syn.json", "--cst", "top.cst", "--write", "top.pnr.json"]
    assert himbaechel_command(amaranth, sdc="top.sdc") == [
        "nextpnr-himbaechel-gowin", "--report", "top.report.json", "--seed", "3", "--log",
        "top.tim", "--device", "GW1NR-LV9QN88PC6/I5", "--vopt", "family=GW1N-9C", "--json",
        "top.syn.json", "--vopt", "cst=top.cst", "--write", "top.pnr.json", "--sdc", "top.sdc"]


# A real Tang Nano 9K build: the UART echo top ------------------------------------------------

def log_figures(tim):
    text = tim.read_text()
    table = {cell: (int(used), int(avail)) for cell, used, avail in
             re.findall(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", text, re.M)}
    fmax = {clock: (float(achieved), float(constraint)) for clock, achieved, constraint in
            re.findall(r"^(?:Info|Warning): Max frequency for clock\s+'([^']+)': ([\d.]+) MHz "
                       r"\((?:PASS|FAIL) at ([\d.]+) MHz\)", text, re.M)}
    constrained = dict(re.findall(r"constraining clock net '([^']+)' to ([\d.]+) MHz", text))
    return table, fmax, constrained


def routed_cells(pnr_json):
    """Cell counts by type of nextpnr's routed netlist."""
    netlist = json.loads(Path(pnr_json).read_text())
    counts = {}
    for module in netlist["modules"].values():
        for cell in module["cells"].values():
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return counts


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    from systolic.boards.build import build_loopback
    out = tmp_path_factory.mktemp("tang-nano-9k-loopback")
    result = build_loopback("tang-nano-9k", out, clk_hz=54e6, timeout=900)
    return result, out


def test_loopback_bitstream_and_report(loopback):
    result, out = loopback
    report = result.report
    assert result.bitstream == out / "top.fs" and result.bitstream.stat().st_size > 100_000
    assert set(result.stage_seconds) == {"synthesis", "placement", "routing", "packing"}
    for key in ("lut", "ff", "dsp", "bram"):
        assert set(report[key]) == {"used", "available"}
    assert report["device"] == "GW1NR-9" and report["family"] == "gowin"
    # The clocks nextpnr timed are the ones the SDC file names, at their frequencies.
    table, fmax, constrained = log_figures(out / "top.tim")
    osc, main = clock_nets(json.loads((out / "top.syn.json").read_text()), "clk27_0__io")
    assert float(constrained[osc]) == pytest.approx(27.0)
    assert float(constrained[main]) == pytest.approx(54.0)
    assert report["clock"]["net"] == main
    assert report["fmax_mhz"] == pytest.approx(fmax[main][0], abs=0.01)
    assert report["clock"]["constraint_mhz"] == pytest.approx(54.0, abs=0.01)
    assert report["timing_met"] == all(a >= c for a, c in fmax.values())
    # The counts are those of the routed netlist (nextpnr's log table is the packed design's,
    # before placement), and nextpnr's device has the data sheet's resources.
    cells = routed_cells(out / "top.pnr.json")
    assert report["lut"]["used"] == sum(n for t, n in cells.items() if re.fullmatch(r"LUT\d", t))
    assert report["ff"]["used"] == sum(n for t, n in cells.items() if t.startswith("DFF"))
    assert report["resources"]["alu"]["used"] == cells["ALU"]
    for key, cell in (("lut", "LUT4"), ("ff", "DFF"), ("bram", "BSRAM")):
        assert report[key]["available"] == table[cell][1] == catalog.device("GW1NR-9")[key]
    assert table["MULT9X9"][1] == 2 * catalog.device("GW1NR-9")["dsp"]
    assert report["resources"]["pll"]["used"] == 1
    assert report["warnings"] == []


# Engine builds (slow: several minutes each) --------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", GOWIN_BOARDS)
def test_engine_build(run_cli, tmp_path, name):
    """``systolic build --board NAME --json``: the default engine, with the Lattice keys."""
    from conftest import BUILD_KEYS
    status, out, err = run_cli("build", "--board", name, "--out", tmp_path / "b", "--json")
    assert status == 0, err
    report = json.loads(out)
    for key in BUILD_KEYS:
        assert key in report, key
    assert Path(report["bitstream"]).suffix == ".fs" and Path(report["bitstream"]).is_file()
    assert report["timing_met"], report["clock"]
    assert report["baud"] == default_baud(name)
    # Every PE's product on a MULT9X9, two to an 18 x 18 block.
    assert report["multipliers"]["lut_pes"] == 0
    assert routed_cells(tmp_path / "b" / "top.pnr.json").get("MULT9X9") == report["macs"]
    assert report["dsp"]["used"] == report["multipliers"]["blocks_taken"] == -(-report["macs"] // 2)
