"""The board records (boards/platforms.py) against their amaranth-boards platforms, and
`systolic boards`."""

import json
import re

import pytest

from systolic.boards import catalog
from systolic.boards.platforms import BOARDS, board, boards, UnknownBoardError
from systolic.boards.top import default_baud
from systolic.host.cli import main


def test_board_names():
    names = [b.name for b in boards()]
    for required in ("icebreaker", "ulx3s-12f", "ulx3s-25f", "ulx3s-45f", "ulx3s-85f"):
        assert required in names
    assert len(names) >= 6
    with pytest.raises(UnknownBoardError, match="known: icebreaker"):
        board("icebreakr")
    with pytest.raises(KeyError):
        board("icebreakr")


@pytest.mark.parametrize("name", list(BOARDS))
def test_board_matches_its_platform(name):
    b = board(name)
    facts = catalog.device(b.device)
    assert b.family == facts["family"]
    platform = b.platform()
    # Amaranth's Gowin platforms name the device by series and size (GW1NR, 9).
    device = getattr(platform, "device", None) or f"{platform.series}-{platform.size}"
    assert device == b.device
    assert platform.package == b.package
    assert platform.default_clk == b.oscillator
    assert platform.default_clk_frequency == b.osc_hz
    # Every resource the board names exists on the platform.
    platform.lookup(b.oscillator, 0)
    platform.lookup(b.uart, 0)
    for spec, _ in b.leds:
        resource_name, number, *_ = spec.split(".")
        platform.lookup(resource_name, int(number))
    assert b.leds, "a board top needs at least one LED"
    plan = b.clock_plan()
    assert abs(plan.error) < 1e-3
    assert b.to_dict()["resources"]["lut"] == facts["lut"]


def test_reference_clocks():
    assert board("icebreaker").osc_hz == 12e6
    assert board("ulx3s-85f").osc_hz == 25e6
    assert board("icebreaker").clock_plan().f_out >= 30e6      # the reference floor
    assert board("ulx3s-85f").clock_plan().f_out >= 150e6


def test_cli_boards_json(capsys):
    assert main(["boards", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    listed = {b["name"]: b for b in data["boards"]}
    assert list(listed) == list(BOARDS)
    ice = listed["icebreaker"]
    assert ice["device"] == "iCE40UP5K" and ice["osc_hz"] == 12e6
    assert ice["resources"]["dsp"] == catalog.device("iCE40UP5K")["dsp"]
    for name, info in listed.items():
        assert info["default_baud"] == default_baud(name)
        assert info["default_baud"] <= info["serial_max_baud"]


def test_cli_boards_table_and_errors(capsys):
    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:2] == ["board", "device"]
    assert "ulx3s-85f" in out and "LFE5U-85F" in out
    assert "tang-nano-9k" in out and "GW1NR-9" in out
    assert "Mbaud" in out.splitlines()[0]
    row = next(line for line in out.splitlines() if line.startswith("ecpix5-85 "))
    assert re.search(rf"kbit\s+{default_baud('ecpix5-85') / 1e6:g}\s+FTDI", row), row
    assert main(["boards", "ulx3s-85f"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert main(["boards", "nope"]) == 2
    assert "unknown board 'nope'" in capsys.readouterr().err
