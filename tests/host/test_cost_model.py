"""The cost model against hand-computed cases (systolic.host.cost, boards.catalog additions)."""

import json
import math

import pytest

from conftest import constructed_build
from systolic.boards import catalog
from systolic.host import cost
from systolic.host.build_report import load_build
from systolic.host.errors import UsageError
from systolic.rtl.config import ArrayConfig


# Total cost and breakeven ------------------------------------------------------------------

def test_reference_case_breaks_even_at_375000():
    # 1.5M / (8 - 4) = 375,000.
    assert cost.breakeven_units(1.5e6, 4.0, 0.0, 8.0) == 375_000
    # At the breakeven both options cost 1.5M + 4 * 375k = 8 * 375k = 3M.
    assert cost.total_cost(1.5e6, 4.0, 375_000) == 3_000_000
    assert cost.total_cost(0.0, 8.0, 375_000) == 3_000_000


def test_breakeven_with_an_fpga_nre():
    # (2.0M - 0.5M) / (13 - 3) = 150,000.
    assert cost.breakeven_units(2e6, 3.0, 5e5, 13.0) == 150_000


@pytest.mark.parametrize("asic_unit", [8.0, 9.5])
def test_no_breakeven_when_the_fpga_unit_is_not_above_the_asic_unit(asic_unit):
    assert cost.breakeven_units(1.5e6, asic_unit, 0.0, 8.0) is None
    rows = cost.compare_at([1, 10**6, 10**9], 1.5e6, asic_unit, 0.0, 8.0)
    assert [r["cheaper"] for r in rows] == ["fpga"] * 3


def test_asic_cheaper_at_every_volume_is_breakeven_zero():
    assert cost.breakeven_units(1000.0, 4.0, 5000.0, 8.0) == 0.0


def test_compare_at_totals_and_cheaper_option():
    rows = cost.compare_at([1000, 375_000, 10**6], 1.5e6, 4.0, 0.0, 8.0)
    assert rows[0] == {"units": 1000, "fpga_total": 8000.0, "asic_total": 1_504_000.0,
                       "fpga_per_unit": 8.0, "asic_per_unit": 1504.0, "cheaper": "fpga"}
    assert rows[1]["cheaper"] == "equal"
    assert rows[2]["asic_total"] == 5_500_000 and rows[2]["cheaper"] == "asic"


# Dies per wafer and yield ------------------------------------------------------------------

def test_dies_per_wafer_worked_example_100mm2():
    # pi * 150^2 / 100 - pi * 300 / sqrt(200) = 706.86 - 66.64 = 640.2
    assert cost.dies_per_wafer(300, 100) == pytest.approx(706.86 - 66.64, abs=0.01)


def test_dies_per_wafer_hennessy_patterson_example():
    # H&P: a 1.5 cm x 1.5 cm die on a 30 cm wafer: 706.9 / 2.25 - 94.2 / 2.12 = 314.2 - 44.4 ~ 270.
    assert cost.dies_per_wafer(300, 225) == pytest.approx(314.16 - 44.43, abs=0.01)


def test_gross_dies_with_edge_exclusion_and_scribe():
    # Usable diameter 300 - 2*5 = 290 mm; pitch (10 + 0.2)^2 = 104.04 mm^2:
    # pi * 145^2 / 104.04 - pi * 290 / sqrt(208.08) = 634.87 - 63.16 = 571.7 -> 571 whole dies.
    assert cost.gross_dies(300, 100, edge_exclusion_mm=5, scribe_mm=0.2) == 571
    assert cost.gross_dies(300, 100) == 640


def test_gross_dies_rejects_a_die_larger_than_the_wafer():
    with pytest.raises(cost.CostInputError, match="does not fit"):
        cost.gross_dies(300, 300 * 300)
    with pytest.raises(cost.CostInputError, match="edge exclusion"):
        cost.gross_dies(300, 100, edge_exclusion_mm=150)


def test_yields_against_hand_computation():
    # D0 = 0.1 defects/cm^2 on a 100 mm^2 = 1 cm^2 die: D0*A = 0.1.
    assert cost.yield_poisson(0.1, 100) == pytest.approx(0.904837, abs=1e-6)          # e^-0.1
    assert cost.yield_murphy(0.1, 100) == pytest.approx(0.951626 ** 2, abs=1e-6)       # 0.905592
    assert cost.yield_negative_binomial(0.1, 100, 3) == pytest.approx(1 / 1.033333 ** 3, abs=1e-5)
    assert cost.yield_negative_binomial(0.1, 100, 3) == pytest.approx(0.906314, abs=1e-6)


def test_negative_binomial_tends_to_poisson_and_orders_models():
    assert cost.yield_negative_binomial(0.5, 200, 1e7) == pytest.approx(cost.yield_poisson(0.5, 200), rel=1e-6)
    # For the same D0*A, clustering (small alpha) gives the highest yield, Poisson the lowest.
    nb, murphy, poisson = (cost.die_yield(m, 0.5, 200, 2) for m in ("negative-binomial", "murphy", "poisson"))
    assert nb > murphy > poisson


def test_yield_of_a_perfect_process_is_one():
    for model in cost.YIELD_MODELS:
        assert cost.die_yield(model, 0.0, 50, 3) == 1.0


def test_die_yield_rejects_unknown_model_and_bad_alpha():
    with pytest.raises(cost.CostInputError, match="unknown"):
        cost.die_yield("seeds", 0.1, 100)
    with pytest.raises(cost.CostInputError, match="alpha"):
        cost.yield_negative_binomial(0.1, 100, 0)


def test_ic_cost_anysilicon_worked_example():
    # Wafer $2000 / 1000 dies = $2 a die; package $0.20; test $0.30 + logistics $0.10; yield 90%:
    # (2 + 0.2 + 0.4) / 0.9 = $2.889, the example the package and test defaults come from.
    die = cost.die_cost(2000, 1000, 1.0)
    assert die == 2.0
    assert cost.ic_cost(die, 0.2, 0.4, 0.9) == pytest.approx(2.889, abs=5e-4)


# ASIC estimate ---------------------------------------------------------------------------------

def test_lut_area_from_the_up5k_die():
    value, how = cost.lut_area_um2()
    assert value == pytest.approx(2.15 * 2.55 * 1e6 / 5280)  # 1038.35 um^2
    assert "UP5K" in how


def test_kuon_rose_ratio_follows_hard_blocks():
    assert cost.kuon_rose_ratio(True)[0] == 18
    assert cost.kuon_rose_ratio(False)[0] == 35
    assert "Kuon and J. Rose" in cost.kuon_rose_ratio(False)[1]


def test_asic_area_from_fpga_scales_with_node():
    # 1500 LUTs x 1038.35 um^2 / 18 = 86,529 um^2 = 0.0865 mm^2 at 40 nm; a quarter at 20 nm.
    assert cost.asic_area_from_fpga(1500, 1038.35, 18, 40, 40) == pytest.approx(0.0865292, rel=1e-5)
    assert cost.asic_area_from_fpga(1500, 1038.35, 18, 40, 20) == pytest.approx(0.0865292 / 4, rel=1e-5)


def test_asic_estimate_hand_computed():
    # A 100 mm^2 die, 300 mm wafer, 5 mm edge, 0.2 mm scribe: 571 dies (above).
    # Poisson yield at D0 = 0.1: 0.904837; die = 2274 / (571 * 0.904837) = $4.4013.
    est = cost.asic_estimate(
        asic_area_mm2=100, wafer_price=2274, defect_density=0.1, mask_set=5e5, design_effort=1e6,
        wafer_diameter_mm=300, edge_exclusion_mm=5, scribe_mm=0.2, yield_model="poisson",
        alpha=None, package=0.2, test=0.3, final_test_yield=0.8)
    assert est["dies_per_wafer"] == 571
    assert est["die_cost"] == pytest.approx(2274 / (571 * 0.904837), rel=1e-6)
    assert est["die_cost"] == pytest.approx(4.4013, abs=1e-4)
    assert est["unit_cost"] == pytest.approx((4.4013 + 0.5) / 0.8, abs=1e-4)
    assert est["nre"] == 1.5e6


# Resources and devices ---------------------------------------------------------------------

def test_catalog_family_order_and_smallest_fitting():
    assert catalog.family_devices("ecp5") == ["LFE5U-12F", "LFE5U-25F", "LFE5U-45F", "LFE5U-85F",
                                              "LFE5UM5G-85F"]
    assert catalog.smallest_fitting("ecp5", {"lut": 20_000, "dsp": 10}) == "LFE5U-25F"
    assert catalog.smallest_fitting("ecp5", {"lut": 1000, "dsp": 50}) == "LFE5U-45F"
    assert catalog.smallest_fitting("ecp5", {"lut": 90_000}) is None
    assert catalog.smallest_fitting("ice40", {"lut": 6000}) == "iCE40HX8K"
    with pytest.raises(KeyError, match="known"):
        catalog.family_devices("virtex")


def test_estimate_resources_4x4_int8():
    # acc_width 28 (16-bit products, K = 4096); all 16 multipliers on the 8 SB_MAC16 blocks,
    # two a block in their dual 8 x 8 mode, as the gateware puts them.
    config = ArrayConfig()
    assert config.acc_width == 28 and config.product_width == 16
    up5k = cost.estimate_resources(config, catalog.device("iCE40UP5K"))
    assert up5k == {"lut": 16 * 2 * 28, "ff": 16 * (8 + 8 + 16 + 2 * 28), "dsp": 8, "bram": 0}
    hx8k = cost.estimate_resources(config, catalog.device("iCE40HX8K"))
    assert hx8k["dsp"] == 0 and hx8k["lut"] == 16 * 64 + 16 * 2 * 28
    # Fewer multipliers than hard blocks: one block each; operands wider than a block: none.
    assert cost.estimate_resources(ArrayConfig(rows=2, cols=2), catalog.device("LFE5U-12F"))["dsp"] == 4
    wide = ArrayConfig(rows=2, cols=2, a_width=20, b_width=20, max_k=16)
    assert cost.estimate_resources(wide, catalog.device("LFE5U-12F"))["dsp"] == 0


@pytest.mark.parametrize("board_name, array", [
    ("icebreaker", ArrayConfig(rows=4, cols=4)),                         # 2 PEs a SB_MAC16
    ("icebreaker", ArrayConfig(rows=6, cols=4)),                         # more PEs than blocks
    ("icebreaker", ArrayConfig(rows=2, cols=3, a_width=12, b_width=12)),  # a whole block each
    ("tang-nano-9k", ArrayConfig(rows=3, cols=5)),                       # 2 a MULT18X18
    ("ulx3s-12f", ArrayConfig(rows=2, cols=3)),                          # 1 a MULT18X18D
])
def test_estimated_dsp_blocks_are_what_the_gateware_takes(board_name, array):
    # The cost model counts blocks from the same fact the PEs are built from: elaborate the
    # array on the board's platform with the device's budget and count what the PEs took.
    from amaranth.hdl import Fragment
    from systolic.boards.platforms import board
    from systolic.rtl.array import SystolicArray
    from systolic.rtl.multiplier import set_multiplier_budget
    b = board(board_name)
    platform = b.platform()
    budget = set_multiplier_budget(platform, b.facts()["dsp"])
    Fragment.get(SystolicArray(array), platform)
    estimate = cost.estimate_resources(array, b.facts())
    assert estimate["dsp"] == budget.blocks
    assert estimate["lut"] == budget.soft * array.a_width * array.b_width \
        + array.macs * 2 * array.acc_width


def test_design_from_config_picks_the_smallest_device_that_holds_it():
    assert cost.design_from_config(ArrayConfig(), "iCE40HX8K")["device"] == "iCE40UP5K"
    # 8x8 int8: 56 x 64 + 64 x 56 = 7168 LUTs on the UP5K (5280): too many; 7680 on the HX8K: fits.
    big = cost.design_from_config(ArrayConfig(rows=8, cols=8), "iCE40UP5K")
    assert big["device"] == "iCE40HX8K" and big["needs"]["lut"] == 7680
    with pytest.raises(cost.CostInputError, match="no ecp5 device holds"):
        cost.design_from_config(ArrayConfig(rows=256, cols=256), "LFE5U-85F")


def test_device_price_converts_and_overrides():
    price, source = cost.device_price("iCE40UP5K")
    assert price == pytest.approx(8.30 * 1.08)
    assert "EUR 8.30" in source and "250" in source
    assert cost.device_price("iCE40UP5K", {"iCE40UP5K": 5.0})[0] == 5.0
    price, reason = cost.device_price("LFE5U-85F")
    assert price is None and "no published, dated price" in reason


def test_node_key_accepts_spellings_and_rejects_unknown():
    assert cost.node_key("28") == cost.node_key("28nm") == cost.node_key("28 NM") == "28nm"
    with pytest.raises(cost.CostInputError, match="known: 90nm"):
        cost.node_key("3nm")


# Data file -----------------------------------------------------------------------------------

def test_every_figure_has_a_source():
    data = cost.load_cost_data()
    for name, node in data["nodes"].items():
        for key in ("wafer_price", "mask_set", "defect_density"):
            assert node[key] > 0 and node["sources"][key], (name, key)
        assert node["date"]

    def walk(obj, path):
        if isinstance(obj, dict):
            if "value" in obj:
                assert obj.get("source"), path
            for key, value in obj.items():
                walk(value, f"{path}.{key}")
        elif isinstance(obj, list):
            for i, value in enumerate(obj):
                walk(value, f"{path}[{i}]")
    walk(data, "cost_data")
    assert {a["name"] for a in data["accelerators"]} == {
        "NVIDIA A100 SXM", "NVIDIA H100 SXM", "Google TPU v4", "Google TPU v1"}
    assert all(a["source"] for a in data["accelerators"])


def test_reference_data_matches_shared_reference():
    data = cost.load_cost_data()
    assert data["nodes"]["28nm"]["wafer_price"] == 2891 and data["nodes"]["28nm"]["mask_set"] == 1.2e6
    assert data["nodes"]["5nm"]["defect_density"] == 0.11
    assert data["kuon_rose"]["logic_only"]["value"] == 35


# Sensitivity ---------------------------------------------------------------------------------

def test_tornado_of_the_reference_case():
    case = cost.reference_case()
    rows = {r["input"]: r for r in cost.tornado(case.params, case.sensitivity_keys, 0.5)}
    # asic_nre 0.75M / 2.25M: 187,500 / 562,500.
    assert (rows["asic_nre"]["breakeven_low"], rows["asic_nre"]["breakeven_high"]) == (187_500, 562_500)
    # asic_unit 2 / 6: 1.5M / 6 = 250,000 and 1.5M / 2 = 750,000.
    assert (rows["asic_unit"]["breakeven_low"], rows["asic_unit"]["breakeven_high"]) == (250_000, 750_000)
    # fpga_unit 4: no breakeven; 12: 1.5M / 8 = 187,500.
    assert rows["fpga_unit"]["breakeven_low"] is None and rows["fpga_unit"]["breakeven_high"] == 187_500
    assert rows["fpga_nre"]["swing"] == 0
    order = [r["input"] for r in cost.tornado(case.params, case.sensitivity_keys, 0.5)]
    assert order == ["fpga_unit", "asic_unit", "asic_nre", "fpga_nre"]


def test_tornado_rejects_a_swing_outside_0_1():
    case = cost.reference_case()
    with pytest.raises(cost.CostInputError, match="swing"):
        cost.tornado(case.params, case.sensitivity_keys, 1.0)


def test_analyse_reference_case():
    result = cost.analyse(cost.reference_case(), [1000, 10**6])
    assert result["breakeven_units"] == 375_000 and result["breakeven_exists"]
    assert "375,000" in result["verdict"]
    assert {a["name"] for a in result["assumptions"]} == {"asic_nre", "asic_unit", "fpga_nre", "fpga_unit"}
    assert all(a["source"] for a in result["assumptions"])
    json.dumps(result)


def test_analyse_overrides_are_labelled():
    result = cost.analyse(cost.reference_case({"fpga_unit": 4.0, "asic_nre": None}))
    assert result["breakeven_units"] is None and not result["breakeven_exists"]
    assert result["verdict"].startswith("No breakeven")
    sources = {a["name"]: a["source"] for a in result["assumptions"]}
    assert "--fpga-unit" in sources["fpga_unit"] and "reference case" in sources["asic_nre"]


# Derived mode on a build report ------------------------------------------------------------


def _write(tmp_path, report, name="build.json"):
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def test_derived_case_from_a_constructed_build_report(tmp_path):
    build = load_build(_write(tmp_path, constructed_build()))
    result = cost.analyse(cost.derived_case(cost.design_from_build(build)))
    assert result["design"]["device"] == "iCE40UP5K"
    # By hand, at the default 40 nm:
    # FPGA unit: EUR 8.30 x 1.08 = $8.964.
    fpga_unit = 8.30 * 1.08
    # Area: 1500 LUTs x (2.15 x 2.55 mm^2 / 5280) / 18 (DSPs used) = 0.086529 mm^2.
    area = 1500 * (2.15 * 2.55 / 5280) / 18
    # Dies: usable 290 mm, pitch (sqrt(A) + 0.2)^2; pi*145^2/p - pi*290/sqrt(2p), rounded down.
    pitch = (math.sqrt(area) + 0.2) ** 2
    dies = math.floor(math.pi * 145 ** 2 / pitch - math.pi * 290 / math.sqrt(2 * pitch))
    # Yield: negative binomial, D0 0.07/cm^2, alpha 10.
    good = (1 + 0.07 * area / 100 / 10) ** -10
    unit = 2274 / (dies * good) + 0.20 + 0.30
    nre = 500_000 + 2 * 500_000
    assert result["asic_estimate"]["area_mm2"] == pytest.approx(area, rel=1e-9)
    assert result["asic_estimate"]["dies_per_wafer"] == dies
    assert 269_000 < dies < 269_400
    assert result["asic"]["unit"] == pytest.approx(unit, rel=1e-9)
    assert result["asic"]["nre"] == nre
    assert result["fpga"]["unit"] == pytest.approx(fpga_unit)
    assert result["breakeven_units"] == pytest.approx(nre / (fpga_unit - unit), rel=1e-9)
    assert result["breakeven_units"] == pytest.approx(177_398, abs=1)
    names = [a["name"] for a in result["assumptions"]]
    for name in ("device", "fpga_unit", "node", "area_ratio", "wafer_price", "defect_density",
                 "alpha", "package", "test", "mask_set", "design_effort"):
        assert name in names
    assert all(a["source"] for a in result["assumptions"])


def test_derived_case_picks_a_smaller_device_than_the_one_built_on(tmp_path):
    report = constructed_build(device="LFE5U-85F", lut={"used": 20_000, "available": 83_640},
                                dsp={"used": 16, "available": 156}, bram={"used": 2, "available": 208})
    design = cost.design_from_build(load_build(_write(tmp_path, report)))
    assert design["built_on"] == "LFE5U-85F" and design["device"] == "LFE5U-25F"
    with pytest.raises(cost.CostInputError, match="--device-price LFE5U-25F=USD"):
        cost.derived_case(design)
    case = cost.derived_case(design, device_prices={"LFE5U-25F": 15.0}, node="28")
    result = cost.analyse(case)
    assert result["fpga"]["unit"] == 15.0
    # 28 nm: NRE 1.2M + 2.4M; area scaled by (28/40)^2.
    assert result["asic"]["nre"] == 3.6e6
    expected = 20_000 * (2.15 * 2.55 / 5280) / 18 * (28 / 40) ** 2
    assert result["asic_estimate"]["area_mm2"] == pytest.approx(expected)


def test_derived_case_overrides_replace_estimates(tmp_path):
    design = cost.design_from_build(load_build(_write(tmp_path, constructed_build())))
    case = cost.derived_case(design, overrides={"asic_unit": 2.0, "mask_set": 1e6, "fpga_unit": 10.0})
    result = cost.analyse(case)
    assert result["asic"]["unit"] == 2.0
    assert result["asic"]["nre"] == 3e6  # design effort follows the overridden mask set
    assert result["breakeven_units"] == pytest.approx(3e6 / 8)
    tornado_inputs = {r["input"] for r in result["tornado"]}
    assert "asic_unit" in tornado_inputs and "package" not in tornado_inputs


@pytest.mark.parametrize("change, message", [
    ({"device": "XC7A35T"}, "device="),
    ({"lut": {"used": -1, "available": 5280}}, "lut="),
    ({"macs": 0}, "macs="),
    ({"timing_met": "yes"}, "timing_met="),
    ({"config": {"rows": 0}}, "config is invalid"),
])
def test_load_build_rejects_bad_reports(tmp_path, change, message):
    with pytest.raises(UsageError, match=message):
        load_build(_write(tmp_path, constructed_build(**change)))


def test_load_build_rejects_missing_keys_and_non_json(tmp_path):
    report = constructed_build()
    del report["dsp"]
    with pytest.raises(UsageError, match="'dsp' is missing"):
        load_build(_write(tmp_path, report))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UsageError, match="not JSON"):
        load_build(bad)
    with pytest.raises(UsageError, match="cannot read"):
        load_build(tmp_path / "absent.json")
