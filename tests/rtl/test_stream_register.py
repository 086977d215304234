"""The stream register slice: order, no loss, full rate, and no combinational path across."""

import random
import subprocess

import pytest
from amaranth.back import rtlil
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from conftest import stream_through
from systolic.boards.toolchain import find_tool
from systolic.rtl.lib.stream_register import StreamRegister


def transfer(beats, send_prob, take_prob, seed):
    """Push ``beats`` through a register with random valid and ready; return what came out
    and the cycles it took."""
    return stream_through(StreamRegister(16), beats, len(beats), send_prob=send_prob,
                          take_prob=take_prob, seed=seed)


@pytest.mark.parametrize("send_prob, take_prob", [(1, 1), (1, 0.3), (0.3, 1), (0.6, 0.6)])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_beat_once_in_order(send_prob, take_prob, seed):
    beats = [random.Random(seed).randrange(1 << 16) for _ in range(200)]
    got, _ = transfer(beats, send_prob, take_prob, seed)
    assert got == beats


def test_full_rate_with_one_cycle_latency():
    beats = list(range(100))
    got, cycles = transfer(beats, 1, 1, 0)
    assert got == beats
    assert cycles == len(beats) + 1


def test_no_combinational_path_from_output_ready_to_input_ready():
    # i_stream.ready must be a register output: drive o_stream.ready and watch it not move
    # within the cycle.
    dut = StreamRegister(8)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.i_stream.valid, 1)
        ctx.set(dut.o_stream.ready, 0)
        await ctx.tick().repeat(3)          # output full, skid full: input not ready
        seen.append(ctx.get(dut.i_stream.ready))
        ctx.set(dut.o_stream.ready, 1)      # same cycle: ready in must not follow yet
        seen.append(ctx.get(dut.i_stream.ready))
        await ctx.tick()
        seen.append(ctx.get(dut.i_stream.ready))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [0, 0, 1]
    Fragment.get(dut, None)     # elaborates without a platform


def test_skid_register_does_not_wait_for_the_consumer(tmp_path):
    # The skid register's logic (what it loads, whether it loads), traced back to the
    # flip-flops it starts at in Yosys's netlist, reads its own state and the input, never
    # the consumer's ready: a late ready reaches only the output register.
    (tmp_path / "slice.il").write_text(rtlil.convert(StreamRegister(8), name="slice"))
    cone = ("select -list w:skid %ci1 %ci1 "
            "%ci*:-$dff,$dffe,$sdff,$sdffe,$sdffce,$adff,$adffe[Q]")
    result = subprocess.run(
        [str(find_tool("yosys")), "-p", f"read_rtlil slice.il; proc; opt; opt_dff; {cone}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    seen = {line.split("/", 1)[1] for line in result.stdout.splitlines()
            if line.startswith("slice/")}
    assert {"skid_valid", "i_stream__payload"} <= seen
    assert "o_stream__ready" not in seen
