"""``systolic cost`` on the command line: reference case, derived mode, plot, bad input."""

import json

import pytest

from conftest import constructed_build
from systolic.host.cost.text import summarize
from systolic.rtl.config import ArrayConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_no_options_is_the_reference_case(run_cli):
    status, out, err = run_cli("cost", "--json")
    assert status == 0 and err == ""
    assert len(out.strip().splitlines()) == 1
    result = json.loads(out)
    assert result["breakeven_units"] == 375_000
    assert result["fpga"] == {"nre": 0.0, "unit": 8.0} and result["asic"] == {"nre": 1.5e6, "unit": 4.0}
    rows = {r["units"]: r for r in result["volumes"]}
    assert rows[100_000]["fpga_total"] == 800_000 and rows[100_000]["asic_total"] == 1_900_000
    assert rows[1_000_000]["cheaper"] == "asic"
    assert all(a["source"] for a in result["assumptions"])


def test_text_output_names_breakeven_and_sources(run_cli):
    status, out, _ = run_cli("cost", "--units", "375k", "1e6")
    assert status == 0
    assert "Breakeven at 375,000 units" in out
    assert "equal" in out  # both options cost $3M at 375,000 units
    assert "Sensitivity" in out and "assumption" in out
    assert "REFERENCE.md" not in out and "source article" not in out


def test_money_in_several_spellings(run_cli):
    status, out, _ = run_cli("cost", "--asic-nre", "$2,000,000", "--asic-unit",
                             "3", "--fpga-nre", "0.5M", "--fpga-unit", "13", "--json")
    assert status == 0
    result = json.loads(out)
    assert result["breakeven_units"] == 150_000  # (2M - 0.5M) / (13 - 3)
    sources = {a["name"]: a["source"] for a in result["assumptions"]}
    assert "--asic-nre" in sources["asic_nre"]


def test_no_breakeven_is_reported_as_such(run_cli):
    status, out, _ = run_cli("cost", "--fpga-unit", "4", "--json")
    assert status == 0
    result = json.loads(out)
    assert result["breakeven_units"] is None and result["breakeven_exists"] is False
    assert result["verdict"].startswith("No breakeven")
    status, out, _ = run_cli("cost", "--asic-unit", "9")
    assert "No breakeven" in out and "Breakeven at" not in out


def test_plot_is_written_as_png(run_cli, tmp_path):
    plot = tmp_path / "out" / "cost.png"
    status, out, _ = run_cli("cost", "--plot", str(plot), "--json")
    assert status == 0
    assert plot.read_bytes()[:8] == PNG_MAGIC
    assert json.loads(out)["plot"] == str(plot)
    assert [p.name for p in plot.parent.iterdir()] == ["cost.png"]  # no temporary left over


def test_plot_without_breakeven(run_cli, tmp_path):
    plot = tmp_path / "none.png"
    status, _, _ = run_cli("cost", "--fpga-unit", "3", "--plot", str(plot))
    assert status == 0 and plot.read_bytes()[:8] == PNG_MAGIC


def test_derived_from_a_constructed_build(run_cli, tmp_path):
    plot = tmp_path / "derived.png"
    status, out, err = run_cli("cost", "--from-build", constructed_build(tmp_path),
                               "--plot", str(plot), "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["design"]["device"] == "iCE40UP5K"
    assert result["asic"]["nre"] == 1.5e6
    assert result["breakeven_units"] == pytest.approx(177_398, abs=1)  # see test_cost_model.py
    assert plot.read_bytes()[:8] == PNG_MAGIC


def test_derived_from_array_options_and_device(run_cli):
    status, out, err = run_cli("cost", "--device", "LFE5U-85F",
                               "--device-price", "LFE5U-12F=10", "--node", "28nm", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["design"]["device"] == "LFE5U-12F"
    assert result["fpga"]["unit"] == 10.0 and result["asic"]["nre"] == 3.6e6
    names = {a["name"]: a for a in result["assumptions"]}
    assert names["node"]["value"] == "28nm" and "--node" in names["node"]["source"]


def test_help_explains_the_options(run_cli):
    status, out, _ = run_cli("cost", "--help")
    assert status == 0
    for option in ("--units", "--asic-nre", "--asic-unit", "--fpga-nre", "--fpga-unit", "--plot",
                   "--json", "--from-build", "--device", "--node", "--wafer-price", "--package"):
        assert option in out


@pytest.mark.parametrize("argv, needle", [
    (["--asic-nre=-5"], "--asic-nre"),
    (["--asic-unit", "four"], "--asic-unit"),
    (["--fpga-unit", "nan"], "--fpga-unit"),
    (["--units", "0"], "--units"),
    (["--units", "2.5"], "--units"),
    (["--device", "XC7A35T"], "--device"),
    (["--node", "3nm"], "--node"),
    (["--node", "28nm"], "--node"),                       # a node without a design
    (["--rows", "8"], "--device"),                        # array options without a device
    (["--device", "LFE5U-85F"], "--fpga-unit"),           # a device without a price
    (["--device", "LFE5U-85F", "--rows", "256", "--cols", "256", "--fpga-unit", "9"], "256x256"),
    (["--from-build", "absent.json"], "--from-build"),
    (["--sensitivity", "1.5"], "--sensitivity"),
    (["--device", "iCE40UP5K", "--final-test-yield", "0"], "--final-test-yield"),
])
def test_bad_input_is_one_line_and_status_2(run_cli, tmp_path, argv, needle):
    plot = tmp_path / "never.png"
    status, out, err = run_cli("cost", *argv, "--plot", str(plot))
    assert status == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("systolic cost: error:") and needle in first
    assert "Traceback" not in err
    assert not plot.exists()


def test_from_build_with_device_is_refused(run_cli, tmp_path):
    status, _, err = run_cli("cost", "--from-build", constructed_build(tmp_path),
                             "--device", "iCE40UP5K")
    assert status == 2 and "exclude each other" in err


def test_unwritable_plot_is_a_usage_error(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    status, out, err = run_cli("cost", "--plot", str(blocker / "x.png"))
    assert status == 2 and out == ""
    assert err.startswith("systolic cost: error: --plot") and len(err.splitlines()) == 1


def test_summarize_for_the_demo(tmp_path):
    plot = tmp_path / "demo_cost.png"
    lines = summarize(constructed_build(tmp_path), plot_path=plot)
    assert any("iCE40UP5K" in line for line in lines)
    assert any("Breakeven at 177,398 units" in line for line in lines)
    assert plot.read_bytes()[:8] == PNG_MAGIC
    # No build: the reference case.
    assert any("375,000" in line for line in summarize())
    # A design whose device has no price: the reference case, saying why.
    lines = summarize(config=ArrayConfig(rows=8, cols=8), device="iCE40UP5K")
    assert "no published, dated price for iCE40HX8K" in lines[0] and any("375,000" in line for line in lines)
