"""The buffers' read port: Amaranth's synchronous read port in simulation, plain block RAM in
Yosys."""

import random
import re
import subprocess

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from systolic.boards.toolchain import find_tool
from systolic.rtl.lib.buffer_port import NO_RW_CHECK, YOSYS_SCRIPT_AFTER_READ, buffer_read_port

WIDTH, DEPTH = 16, 256


class Buffer(wiring.Component):
    """A memory with one write port and one read port, built either way."""

    def __init__(self, ours):
        self._ours = ours
        super().__init__({
            "w_en": In(1), "w_addr": In(range(DEPTH)), "w_data": In(WIDTH),
            "r_en": In(1), "r_addr": In(range(DEPTH)), "r_data": Out(WIDTH),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = Memory(shape=WIDTH, depth=DEPTH, init=[],
                                              attrs=NO_RW_CHECK)
        write = memory.write_port()
        read = buffer_read_port(m, memory) if self._ours else memory.read_port()
        m.d.comb += [write.en.eq(self.w_en), write.addr.eq(self.w_addr),
                     write.data.eq(self.w_data), read.en.eq(self.r_en),
                     read.addr.eq(self.r_addr), self.r_data.eq(read.data)]
        return m


class Pair(wiring.Component):
    """Both kinds side by side on the same inputs."""

    def __init__(self):
        self.ours, self.amaranths = Buffer(True), Buffer(False)
        super().__init__({name: member for name, member in self.ours.signature.members.items()
                          if name != "r_data"} | {"r_data": Out(WIDTH), "ref_data": Out(WIDTH)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.ours, m.submodules.amaranths = self.ours, self.amaranths
        for name in ("w_en", "w_addr", "w_data", "r_en", "r_addr"):
            m.d.comb += [getattr(self.ours, name).eq(getattr(self, name)),
                         getattr(self.amaranths, name).eq(getattr(self, name))]
        m.d.comb += [self.r_data.eq(self.ours.r_data), self.ref_data.eq(self.amaranths.r_data)]
        return m


def test_reads_as_amaranths_synchronous_port_even_on_collisions():
    """Random writes and reads over a few addresses, so that many reads collide with a write
    to their address: the data agrees with Amaranth's port (the old word) on every cycle."""
    dut = Pair()
    rng = random.Random(5)
    seen = []

    async def bench(ctx):
        for _ in range(2000):
            ctx.set(dut.w_en, rng.random() < 0.6)
            ctx.set(dut.w_addr, rng.randrange(4))
            ctx.set(dut.w_data, rng.randrange(1 << WIDTH))
            ctx.set(dut.r_en, rng.random() < 0.7)
            ctx.set(dut.r_addr, rng.randrange(4))
            await ctx.tick()
            ours, reference = ctx.get(dut.r_data), ctx.get(dut.ref_data)
            assert ours == reference
            seen.append(ours)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert len(set(seen)) > 100         # the reads returned written words, not one constant


def ice40_cells(tmp_path, ours):
    """Cell counts of the buffer after Yosys's iCE40 synthesis, with the board builds' script."""
    (tmp_path / "buffer.il").write_text(rtlil.convert(Buffer(ours), name="buffer"))
    (tmp_path / "buffer.ys").write_text(
        f"read_rtlil buffer.il\n{YOSYS_SCRIPT_AFTER_READ}\nsynth_ice40 -top buffer\nstat\n")
    result = subprocess.run([str(find_tool("yosys")), "-q", "-l", "buffer.log", "buffer.ys"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    log = (tmp_path / "buffer.log").read_text()
    stats = log[log.rindex("Printing statistics"):]
    return {cell: int(count) for count, cell in re.findall(r"^\s+(\d+)\s+(SB_\w+)$", stats, re.M)}


@pytest.mark.parametrize("ours", [True, False], ids=["buffer_read_port", "amaranth_port"])
def test_ice40_block_ram_without_collision_logic(tmp_path, ours):
    """Yosys builds our port from the block RAM alone: no flip-flop, no logic a bit. Amaranth's
    own port, for comparison, gets the old-word rule built around the RAM: write registers, a
    bypass, a comparator."""
    cells = ice40_cells(tmp_path, ours)
    assert cells.get("SB_RAM40_4K") == 1
    flip_flops = sum(count for cell, count in cells.items() if cell.startswith("SB_DFF"))
    luts = cells.get("SB_LUT4", 0)
    if ours:
        assert flip_flops == 0 and luts < WIDTH, cells
    else:
        assert flip_flops >= WIDTH and luts >= WIDTH, cells
