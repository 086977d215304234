"""What a board's build holds unless told otherwise: the defaults resolved from each board's
record (boards/design.py), the same for `systolic boards` and `systolic build`, and sized to
the device (no toolchain)."""

import json

import pytest
from amaranth.hdl import Fragment

from systolic.boards.block_ram_estimate import block_rams
from systolic.boards.platforms import BOARDS, board
from systolic.boards.design import (BRIDGE_BRAM, default_array, default_clock_hz,
                                    default_engine_config, fit_engine_config, link_clock_hz)
from systolic.boards.top import BoardTop
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.sim.engine_perf import gemm_perf


@pytest.mark.parametrize("name", list(BOARDS))
def test_default_design_fits_the_device_on_paper(name):
    b = board(name)
    facts = b.facts()
    array = default_array(b)
    engine = default_engine_config(b, array)
    assert engine.array == array
    assert block_rams(engine, b.family)["total"] <= facts["bram"] - BRIDGE_BRAM
    # The array fills the hard multipliers: one a PE on ECP5, two int8 PEs a block on iCE40
    # and Gowin. On Gowin the default is what was seen to build (a 6x6 array on the GW1NR-9
    # never got through placement; BENCHMARKS.md), at least half the blocks. An 85F's array
    # goes past its blocks (issue 17), but most of any array's PEs are on hard multipliers.
    per_block = 1 if b.family == "ecp5" else 2
    hard = per_block * facts["dsp"]
    assert array.macs - hard <= array.macs // 4
    fill = 0.5 if b.family == "gowin" else 0.75
    assert array.macs >= hard * fill
    assert b.clock_plan(default_clock_hz(b)).f_out > 0


@pytest.mark.parametrize("name", list(BOARDS))
def test_boards_and_build_agree_on_the_defaults(run_cli, name):
    # `systolic boards --json` shows what `systolic build` builds unless told otherwise: both
    # resolve it with the same function from the one board record, and say the same.
    status, listed, _ = run_cli("boards", name, "--json")
    assert status == 0
    info, = json.loads(listed)["boards"]
    status, dry, _ = run_cli("build", "--board", name, "--dry-run", "--json")
    assert status == 0
    design = json.loads(dry)
    assert info["default_design"] == design
    b = board(name)
    # ... and those are the board record's facts: its array, its clock, its placer and seed.
    assert design["config"] == b.array.to_dict()
    assert design["target_mhz"] == info["default_clk_hz"] / 1e6 == b.default_clk_hz / 1e6
    assert design["baud"] == info["default_baud"]
    assert design["seed"] == b.seed and design["placer"] == b.placer
    assert info["led_roles"] == list(b.led_roles) and len(info["leds"]) == len(b.leds)
    assert info["programmer"] == " ".join(info["programmers"][0])


def test_dry_run_takes_the_options_and_builds_nothing(run_cli, tmp_path):
    status, out, _ = run_cli("build", "--board", "ulx3s-85f", "--rows", "4", "--k-depth", "16",
                             "--clock-mhz", "100", "--dry-run", "--json", "--out", tmp_path)
    assert status == 0
    design = json.loads(out)
    # One way: the options given over the board's design (its cols and pipeline stay).
    array = default_array("ulx3s-85f")
    assert (design["config"]["rows"], design["config"]["cols"], design["config"]["pipeline"]) \
        == (4, array.cols, array.pipeline)
    assert design["engine"]["k_depth"] == 16 and design["target_mhz"] == 100
    assert list(tmp_path.iterdir()) == []


def test_fit_engine_config_shrinks_buffers_to_the_block_ram():
    config = EngineConfig.ecp5(ArrayConfig(rows=8, cols=8))
    fitted = fit_engine_config(config, "ecp5", 40)
    assert block_rams(fitted, "ecp5")["total"] <= 40
    assert fitted.array == config.array
    assert fit_engine_config(config, "ecp5", 1000) == config


def test_ecp5_links_run_from_the_oscillator():
    # The UART and bridge of an ECP5 build get a clock domain of their own (the oscillator),
    # which the build defines; the iCE40 PLL takes the oscillator pad, so there they share sync.
    assert link_clock_hz("ulx3s-85f") == board("ulx3s-85f").osc_hz == 25e6
    assert link_clock_hz("icebreaker") is None
    top = BoardTop("ulx3s-85f", default_engine_config("ulx3s-85f"), clock_hz=150e6,
                   link_clock_hz=25e6)
    assert top.core.link_clock_hz == 25e6 and top.core.divisor == 25
    assert top.core.info.clock_khz == 150_000
    Fragment.get(top, board("ulx3s-85f").platform())     # and it elaborates on the board


def test_floors_of_the_icebreaker_default():
    assert default_array("icebreaker").macs >= 16
    assert default_clock_hz("icebreaker") >= 30e6


def test_ulx3s_85f_default_has_the_floor_macs():
    # Issue 17: a default past the 156 MULT18X18D, its PEs beyond them in logic cells.
    assert default_array("ulx3s-85f").macs >= 192


def test_ulx3s_85f_default_clock_floor():
    assert default_clock_hz("ulx3s-85f") >= 150e6


#: The reference GEMMs of the efficiency tables (benchmarks/efficiency.py).
REFERENCE_GEMMS = [(256, 256, 256), (512, 512, 512), (128, 128, 128), (37, 53, 29)]


def _peer_efficiency(m, k, n, rows, cols):
    """SCALE-Sim 3's output-stationary efficiency in closed form: ``ceil(M/R) * ceil(N/C)``
    folds of ``K + R + C - 2`` cycles, less one (BENCHMARKS.md, "GEMM engine efficiency")."""
    cycles = -(-m // rows) * -(-n // cols) * (k + rows + cols - 2) - 1
    return m * k * n / (rows * cols) / cycles


@pytest.mark.parametrize("name, shape", [pytest.param(name, None, id=name) for name in BOARDS]
                         + [pytest.param("ulx3s-85f", (r, c), id=f"ulx3s-85f-{r}x{c}")
                            for r, c in [(16, 8), (8, 16), (12, 12), (12, 16)]])
@pytest.mark.parametrize("gemm", REFERENCE_GEMMS, ids=lambda gemm: "x".join(map(str, gemm)))
def test_board_defaults_are_not_below_scalesim(name, shape, gemm):
    # A preset is held to the peer on the same work before it is built: 32 K steps split
    # 37x53x29 into two jobs and fell below it (BENCHMARKS.md, "thirteenth round").
    array = None if shape is None else ArrayConfig(rows=shape[0], cols=shape[1], pipeline=1)
    engine = default_engine_config(name, array)
    ours = gemm_perf(engine, *gemm).efficiency
    assert ours >= _peer_efficiency(*gemm, engine.array.rows, engine.array.cols)
