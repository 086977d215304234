"""The engine's buffers (``buffer_memory``): early read ports, in simulation and on the ECP5."""

import random
import re

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment, Module
from amaranth.lib.data import ArrayLayout
from amaranth.sim import Simulator

from conftest import FamilyPlatform
from systolic.boards.block_ram_estimate import block_rams
from systolic.rtl.config import ArrayConfig
from systolic.rtl.engine.config import EngineConfig
from systolic.rtl.engine.engine import GemmEngine
from systolic.rtl.lib.block_ram import buffer_memory
from systolic.rtl.lib.buffer_port import buffer_attrs

LAYOUT = ArrayLayout(28, 4)
DEPTH = 48


def buffer(platform, latency=2, *, m=None, name="mem", early_reads=(0,), early_write=False):
    m = Module() if m is None else m
    write, reads = buffer_memory(m, platform, name=name, layout=LAYOUT, depth=DEPTH,
                                 latency=latency, attrs=buffer_attrs("block"), read_ports=2,
                                 early_reads=early_reads, early_write=early_write)
    return m, write, reads


@pytest.mark.parametrize("latency", [1, 2])
def test_an_early_read_returns_what_an_on_time_read_does(latency):
    # Port 0 is given each address a cycle before port 1: both return the same words on the
    # same cycles, across writes.
    m, write, (early, on_time) = buffer(None, latency)
    rng = random.Random(latency)
    addresses = [rng.randrange(DEPTH) for _ in range(300)]
    got = []

    async def bench(ctx):
        ctx.set(on_time.en, 1)
        for cycle, addr in enumerate(addresses):
            ctx.set(early.addr, addr)
            ctx.set(on_time.addr, addresses[cycle - 1] if cycle else 0)
            ctx.set(write.en, rng.random() < 0.3)
            ctx.set(write.addr, rng.randrange(DEPTH))
            ctx.set(write.data, [rng.randrange(1 << 28) for _ in range(4)])
            await ctx.tick()
            if cycle > latency + 1:
                got.append((ctx.get(early.data.as_value()), ctx.get(on_time.data.as_value())))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert all(a == b for a, b in got)
    assert len({a for a, _ in got}) > 50        # words written and read, not one constant


@pytest.mark.parametrize("latency", [1, 2])
def test_an_early_write_lands_as_an_on_time_write(latency):
    # Two buffers get the same writes, the first each a cycle ahead: reads of both agree.
    m, early, (early_read, _) = buffer(None, latency, name="early", early_reads=(),
                                       early_write=True)
    _, on_time, (on_time_read, _) = buffer(None, latency, m=m, name="on_time", early_reads=())
    rng = random.Random(latency)
    writes = [(rng.random() < 0.5, rng.randrange(DEPTH), [rng.randrange(1 << 28) for _ in range(4)])
              for _ in range(300)]
    got = []

    async def bench(ctx):
        for port in (early_read, on_time_read):
            ctx.set(port.en, 1)
        for cycle, (en, addr, data) in enumerate(writes):
            ctx.set(early.en, en)
            ctx.set(early.addr, addr)
            ctx.set(early.data, data)
            if cycle:
                ctx.set(on_time.en, writes[cycle - 1][0])
                ctx.set(on_time.addr, writes[cycle - 1][1])
                ctx.set(on_time.data, writes[cycle - 1][2])
            read_addr = rng.randrange(DEPTH)
            ctx.set(early_read.addr, read_addr)
            ctx.set(on_time_read.addr, read_addr)
            await ctx.tick()
            if cycle > latency + 1:
                got.append((ctx.get(early_read.data.as_value()),
                            ctx.get(on_time_read.data.as_value())))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert all(a == b for a, b in got)
    assert len({a for a, _ in got}) > 50


def test_ecp5_blocks_of_an_early_write_each_have_their_own_registers():
    m, _, _ = buffer(FamilyPlatform("ecp5"), early_reads=(), early_write=True)
    text = rtlil.convert(Fragment.get(m, FamilyPlatform("ecp5")), ports=[], emit_src=False)
    blocks = re.findall(r"cell \\DP16KD \\mem_(r\d_b\d+)", text)
    assert len(blocks) > 2
    for block in blocks:
        for what, bits in (("write_addr", DEPTH.bit_length()), ("di_reg", 18)):
            found = re.findall(rf"cell \\TRELLIS_FF \\mem_{block}_{what}_ff\d+\n", text)
            assert 0 < len(found) <= bits, (block, what)
        assert re.search(rf"cell \\TRELLIS_FF \\mem_{block}_we_ff\d*\n", text)


def test_ecp5_blocks_of_an_early_read_each_have_their_own_address_register():
    m, _, _ = buffer(FamilyPlatform("ecp5"))
    text = rtlil.convert(Fragment.get(m, FamilyPlatform("ecp5")), ports=[], emit_src=False)
    blocks = {int(b) for r, b in re.findall(r"cell \\DP16KD \\mem_r(\d)_b(\d+)", text)
              if r == "0"}
    assert len(blocks) > 1
    # One kept register (a TRELLIS_FF a bit) a block of port 0, and its ADB pins read it;
    # port 1's blocks read the port's own address.
    for b in blocks:
        assert len(re.findall(rf"cell \\TRELLIS_FF \\mem_r0_b{b}_addr_ff\d+\n", text)) == \
            DEPTH.bit_length()
    assert not re.search(r"mem_r1_b\d+_addr", text)


@pytest.mark.parametrize("rows, cols, k_depth, m_blocks, n_blocks, dataflow", [
    (3, 4, 64, 4, 2, "output-stationary"),      # every buffer in 1024 x 18
    (3, 5, 32, 40, 12, "output-stationary"),    # a 1,440-row result buffer: 2048 x 9
    (2, 2, 2048, 1, 1, "output-stationary"),    # two 2,048-word operand banks: 4096 x 4
    (4, 3, 600, 2, 2, "weight-stationary"),
])
def test_the_ecp5_block_ram_estimate_counts_the_blocks_built(rows, cols, k_depth, m_blocks,
                                                             n_blocks, dataflow):
    # The estimate sizes the board presets; an ECP5 engine with two-cycle buffers is built from
    # DP16KD instances, and the estimate must be their number, not a cheaper mode's.
    config = EngineConfig(array=ArrayConfig(rows=rows, cols=cols, dataflow=dataflow),
                          k_depth=k_depth, m_blocks=m_blocks, n_blocks=n_blocks,
                          buffer_latency=2)
    text = rtlil.convert(GemmEngine(config), platform=FamilyPlatform("ecp5"), emit_src=False)
    assert len(re.findall(r"cell \\DP16KD ", text)) == block_rams(config, "ecp5")["total"]
