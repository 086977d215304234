"""PLL divider search against the open tools (icepll, ecppll), range checks, components."""

import re
import subprocess

import pytest
from amaranth.hdl import Fragment, Instance

from systolic.boards.pll import (PLLError, ice40_pll, ecp5_pll, plan_clock, ICE40PLL, ECP5PLL,
                                 ClockGenerator, ICE40_LIMITS, ECP5_LIMITS)
from systolic.boards.toolchain import find_tool, ToolchainError


def run_tool(name, args, cwd):
    try:
        path = find_tool(name)
    except ToolchainError as exc:
        pytest.skip(str(exc))
    # The yowasp tools only see their working directory, so outputs are written relative to it.
    result = subprocess.run([str(path), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    return result


ICE40_CASES = [(12, 16), (12, 30), (12, 33.3333), (12, 48), (12, 50), (12, 100), (12, 275),
               (25, 66.6), (100, 133)]


@pytest.mark.parametrize("f_in, f_out", ICE40_CASES)
def test_ice40_matches_icepll(f_in, f_out, tmp_path):
    result = run_tool("icepll", ["-i", str(f_in), "-o", str(f_out), "-p", "-m", "-f", "pll.v"],
                      tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "pll.v").read_text()
    expected = {key: int(value) for key, value in
                re.findall(r"//\s*(DIVR|DIVF|DIVQ|FILTER_RANGE)\s*=\s*(\d+)", text)}
    achieved = float(re.search(r"Achieved output frequency:\s*([\d.]+) MHz", text).group(1))

    config = ice40_pll(f_in * 1e6, f_out * 1e6)
    assert {"DIVR": config.divr, "DIVF": config.divf, "DIVQ": config.divq,
            "FILTER_RANGE": config.filter_range} == expected
    assert config.f_out / 1e6 == pytest.approx(achieved, abs=0.00051)    # printed to 3 places
    assert config.f_out == pytest.approx(
        config.f_in / (config.divr + 1) * (config.divf + 1) / 2 ** config.divq)
    lo, hi = ICE40_LIMITS["f_vco"]
    assert lo <= config.f_vco / 1e6 <= hi


ECP5_CASES = [(25, 150), (25, 100), (25, 33.3), (25, 48), (25, 125), (25, 200), (25, 77),
              (100, 150), (100, 60), (12, 130)]


@pytest.mark.parametrize("f_in, f_out", ECP5_CASES)
def test_ecp5_matches_ecppll(f_in, f_out, tmp_path):
    result = run_tool("ecppll", ["-i", str(f_in), "-o", str(f_out), "-f", "pll.v"], tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    expected = {
        "clki_div": int(re.search(r"Refclk divisor: (\d+)", out).group(1)),
        "clkfb_div": int(re.search(r"Feedback divisor: (\d+)", out).group(1)),
        "clkop_div": int(re.search(r"clkout0 divisor: (\d+)", out).group(1)),
    }
    achieved = float(re.search(r"clkout0 frequency: ([\d.]+) MHz", out).group(1))

    config = ecp5_pll(f_in * 1e6, f_out * 1e6)
    assert config.f_out / 1e6 == pytest.approx(achieved, rel=1e-5)
    assert {"clki_div": config.clki_div, "clkfb_div": config.clkfb_div,
            "clkop_div": config.clkop_div} == expected
    # The phase is ours (0 degrees), not ecppll's (about 180): see ECP5PLLConfig.clkop_cphase.
    assert 0 <= config.clkop_cphase < config.clkop_div
    lo, hi = ECP5_LIMITS["f_vco"]
    assert lo <= config.f_vco / 1e6 <= hi


@pytest.mark.parametrize("search, f_in, f_out, match", [
    (ice40_pll, 12e6, 15.9e6, "f_out=15.9 MHz"),
    (ice40_pll, 12e6, 276e6, "f_out=276 MHz"),
    (ice40_pll, 9e6, 30e6, "f_in=9 MHz"),
    (ice40_pll, 12e6, "30", "f_out"),
    (ecp5_pll, 25e6, 401e6, "f_out=401 MHz"),
    (ecp5_pll, 7e6, 100e6, "f_in=7 MHz"),
    (ecp5_pll, 25e6, float("nan"), "f_out"),
])
def test_out_of_range(search, f_in, f_out, match):
    with pytest.raises(PLLError, match=match):
        search(f_in, f_out)


def test_max_error():
    # 12 MHz -> 33.3333 MHz: the closest an iCE40 gets is 33 MHz (12 * 88 / 32; 33.375 would
    # need a 1068 MHz VCO), 1 % off.
    config = ice40_pll(12e6, 33.3333e6)
    assert config.f_out == 33e6
    assert abs(config.error) == pytest.approx(0.01, rel=1e-3)
    with pytest.raises(PLLError, match="within 0.50%"):
        ice40_pll(12e6, 33.3333e6, max_error=0.005)
    assert ice40_pll(12e6, 33.3333e6, max_error=0.02) == config


def test_plan_clock():
    direct = plan_clock("ice40", 12e6, 12e6)
    assert direct.pll is None and direct.f_out == 12e6
    plan = plan_clock("ice40", 12e6, 30e6)
    assert plan.f_out == 30e6 and plan.pll.divf == 79 and plan.error == 0
    plan = plan_clock("ecp5", 25e6, 150e6)
    assert plan.f_out == 150e6 and plan.pll.clkfb_div == 6
    assert plan.to_dict()["pll"]["clkop_div"] == 4
    with pytest.raises(PLLError, match="family"):
        plan_clock("xilinx", 100e6, 200e6)
    with pytest.raises(PLLError, match="iCE40 PLL range"):
        plan_clock("ice40", 12e6, 13e6)


def instances(fragment):
    for sub, _name, _loc in fragment.subfragments:
        if isinstance(sub, Instance):
            yield sub
        else:
            yield from instances(sub)


class FakePad:
    """Stands in for a requested oscillator pin: the instance only reads ``.io``."""
    def __init__(self):
        from amaranth.hdl import IOPort
        self.io = IOPort(1, name="clk12")


@pytest.mark.parametrize("primitive", ["SB_PLL40_PAD", "SB_PLL40_2F_PAD"])
def test_ice40_pll_instance(primitive):
    pll = ICE40PLL(ice40_pll(12e6, 30e6), FakePad(), primitive=primitive)
    inst, = instances(Fragment.get(pll, None))
    assert inst.type == primitive
    assert inst.parameters["DIVF"] == 79 and inst.parameters["DIVQ"] == 5
    assert inst.parameters["FEEDBACK_PATH"] == "SIMPLE"
    assert "PACKAGEPIN" in inst.ports
    if primitive == "SB_PLL40_2F_PAD":
        assert inst.parameters["PLLOUT_SELECT_PORTB"] == "GENCLK_HALF"
        assert hasattr(pll, "clk_half")
    else:
        assert not hasattr(pll, "clk_half")


def test_ice40_pll_rejects_unknown_primitive():
    with pytest.raises(PLLError, match="primitive"):
        ICE40PLL(ice40_pll(12e6, 30e6), FakePad(), primitive="SB_PLL40_CORE")
    with pytest.raises(PLLError, match="primitive"):
        ClockGenerator(plan_clock("ecp5", 25e6, 100e6), "clk25", primitive="SB_PLL40_PAD")


def test_ecp5_pll_instance():
    inst, = instances(Fragment.get(ECP5PLL(ecp5_pll(25e6, 150e6)), None))
    assert inst.type == "EHXPLLL"
    p = inst.parameters
    assert (p["CLKI_DIV"], p["CLKFB_DIV"], p["CLKOP_DIV"], p["CLKOP_CPHASE"]) == (1, 6, 4, 3)
    assert p["FEEDBK_PATH"] == "CLKOP"
    assert inst.attrs["FREQUENCY_PIN_CLKOP"] == "150"


def test_clock_generator_needs_a_platform():
    gen = ClockGenerator(plan_clock("ice40", 12e6, 30e6), "clk12")
    assert gen.frequency == 30e6
    with pytest.raises(PLLError, match="platform"):
        Fragment.get(gen, None)
