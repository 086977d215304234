"""``systolic report``: peak throughput, per dollar and per watt, and the reference rows."""

import json

import pytest

from conftest import constructed_build
from systolic.host.comparison import format_ops, peak_ops_per_s, report, design_row


def test_tpu_v1_shape_at_700_mhz_is_91_75_tops():
    # 2 x 65,536 MACs x 700 MHz = 91.7504e12 ops/s: the TPU v1's quoted 92 TOPS.
    peak = peak_ops_per_s(256 * 256, 700)
    assert peak == 91_750_400_000_000
    assert format_ops(peak) == "91.75 TOPS"
    assert abs(peak - 92e12) / 92e12 < 0.003


def test_per_dollar_and_per_watt():
    row = design_row(macs=16, clock_mhz=24, clock_source="test", price_usd=8.0, power_w=0.5)
    assert row["peak_ops_per_s"] == 2 * 16 * 24e6  # 768 MOPS
    assert row["ops_per_s_per_usd"] == 768e6 / 8.0
    assert row["ops_per_s_per_w"] == 768e6 / 0.5
    bare = design_row(macs=16, clock_mhz=24, clock_source="test")
    assert bare["ops_per_s_per_usd"] is None and bare["ops_per_s_per_w"] is None


def test_reference_rows():
    rows = {r["name"]: r for r in report(design_row(macs=1, clock_mhz=1, clock_source="t"))["reference"]}
    assert set(rows) == {"NVIDIA A100 SXM", "NVIDIA H100 SXM", "Google TPU v4", "Google TPU v1"}
    a100 = rows["NVIDIA A100 SXM"]
    assert a100["peak_ops_per_s"] == 624e12
    assert a100["ops_per_s_per_usd"] == pytest.approx(624e12 / 10_000)   # 62.4 GOPS/$
    assert a100["ops_per_s_per_w"] == pytest.approx(624e12 / 400)        # 1.56 TOPS/W
    assert rows["Google TPU v1"]["ops_per_s_per_w"] == pytest.approx(92e12 / 40)
    assert rows["Google TPU v4"]["ops_per_s_per_usd"] is None             # not sold
    assert all(r["source"] for r in rows.values())


def test_cli_report_256x256_at_700mhz(run_cli):
    status, out, err = run_cli("report", "--rows", "256", "--cols", "256",
                               "--clock-mhz", "700")
    assert status == 0 and err == ""
    assert "91.75 TOPS" in out
    for name in ("A100", "H100", "TPU v4", "TPU v1"):
        assert name in out


def test_cli_report_json_with_price_and_power(run_cli):
    status, out, _ = run_cli("report", "--clock-mhz", "100", "--price", "20",
                             "--power", "2", "--json")
    assert status == 0
    result = json.loads(out)
    design = result["design"]
    assert design["peak_ops_per_s"] == 2 * 16 * 100e6
    assert design["ops_per_s_per_usd"] == pytest.approx(3.2e9 / 20)
    assert design["ops_per_s_per_w"] == pytest.approx(3.2e9 / 2)
    assert "--price" in design["price_source"] and "--power" in design["power_source"]
    assert len(result["reference"]) == 4


def test_cli_report_from_a_constructed_build(run_cli, tmp_path):
    status, out, _ = run_cli("report", "--from-build",
                             constructed_build(tmp_path), "--json")
    assert status == 0
    design = json.loads(out)["design"]
    # Timing met: the target clock, 2 x 16 x 24 MHz = 768 MOPS, on an $8.964 UP5K.
    assert design["clock_mhz"] == 24 and design["peak_ops_per_s"] == 768e6
    assert design["price_usd"] == pytest.approx(8.30 * 1.08)
    assert design["ops_per_s_per_usd"] == pytest.approx(768e6 / (8.30 * 1.08))
    assert design["config"]["rows"] == 4


def test_cli_report_uses_fmax_when_timing_failed(run_cli, tmp_path):
    build = constructed_build(tmp_path, timing_met=False, fmax_mhz=20.0)
    status, out, _ = run_cli("report", "--from-build", build, "--json")
    assert status == 0
    design = json.loads(out)["design"]
    assert design["clock_mhz"] == 20.0 and "Fmax" in design["clock_source"]


@pytest.mark.parametrize("argv, needle", [
    (["report"], "--clock-mhz"),
    (["report", "--clock-mhz", "0"], "--clock-mhz"),
    (["report", "--clock-mhz", "100", "--power", "-1"], "--power"),
    (["report", "--clock-mhz", "100", "--price", "abc"], "--price"),
    (["report", "--clock-mhz", "100", "--device", "XC7"], "--device"),
])
def test_cli_report_bad_input(run_cli, argv, needle):
    status, out, err = run_cli(*argv)
    assert status == 2 and out == ""
    first = err.splitlines()[0]
    assert first.startswith("systolic report: error:") and needle in first
    assert "Traceback" not in err
