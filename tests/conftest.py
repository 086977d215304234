"""Shared fixtures."""

import dataclasses

import pytest

from systolic.host import cli
from systolic.rtl.config import ENGINE_DATAFLOWS


@pytest.fixture(params=ENGINE_DATAFLOWS)
def dataflow(request):
    """Each dataflow the GEMM engine is built for: engine tests run on every one."""
    return request.param


def on_dataflow(config, dataflow):
    """``config`` (an :class:`~systolic.rtl.engine.config.EngineConfig`) with its array's
    ``dataflow`` set, everything else as it is."""
    return dataclasses.replace(config, array=dataclasses.replace(config.array, dataflow=dataflow))


@pytest.fixture
def run_cli(capsys):
    """Run ``systolic ARGV...`` in-process; return ``(status, stdout, stderr)``.

    argparse's own errors (unknown choice, bad type) exit through ``SystemExit``; their status
    is returned like any other.
    """
    def run(*argv):
        try:
            status = cli.main([str(arg) for arg in argv])
        except SystemExit as exc:
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err
    return run


class FamilyPlatform:
    """Just what the gateware reads of a platform: its family (Amaranth's spelling)."""

    def __init__(self, family):
        self.family = family


def stream_through(dut, payloads, expected, *, send_prob, take_prob, seed):
    """Offer ``payloads`` on ``dut.i_stream`` with random bubbles and take ``expected`` beats
    from ``dut.o_stream`` with a random ``ready``, in Amaranth's simulator (one random stream
    for both). Returns ``(payloads taken, cycles the sink ran)``."""
    import random
    from amaranth.sim import Simulator
    rng = random.Random(seed)
    got, cycles = [], []

    async def source(ctx):
        for payload in payloads:
            ctx.set(dut.i_stream.payload, payload)
            while rng.random() >= send_prob:
                ctx.set(dut.i_stream.valid, 0)
                await ctx.tick()
            ctx.set(dut.i_stream.valid, 1)
            await ctx.tick().until(dut.i_stream.ready)
        ctx.set(dut.i_stream.valid, 0)

    async def sink(ctx):
        count = 0
        while len(got) < expected:
            ready = rng.random() < take_prob
            ctx.set(dut.o_stream.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o_stream.valid,
                                                          dut.o_stream.payload)
            count += 1
            if valid and ready:
                got.append(payload)
        cycles.append(count)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return got, cycles[0]


def constructed_build(tmp_path=None, **changes):
    """A report IN THE SHAPE of 'systolic build --json' for the iCEBreaker's 4x4 array,
    constructed here (not a real build), with ``changes``; written to ``tmp_path/build.json``
    (and that path returned) when ``tmp_path`` is given."""
    import json
    from systolic.rtl.config import ArrayConfig
    report = {
        "board": "icebreaker", "device": "iCE40UP5K", "fits": True,
        "lut": {"used": 1500, "available": 5280}, "ff": {"used": 800, "available": 5280},
        "dsp": {"used": 8, "available": 8}, "bram": {"used": 0, "available": 30},
        "fmax_mhz": 30.5, "target_mhz": 24, "timing_met": True, "macs": 16, "peak_gops": 0.768,
        "bitstream": "build/top.bin", "config": ArrayConfig().to_dict(),
    }
    report.update(changes)
    if tmp_path is None:
        return report
    path = tmp_path / "build.json"
    path.write_text(json.dumps(report))
    return str(path)


#: GEMM shapes at the engine's edges, for an engine with 16-deep, 9 x 10 buffers
#: (the RTL tests and the Verilog tests run the same ones).
EDGE_SHAPES = [
    (7, 1, 9),      # K = 1: every pass waits for the pass spacing
    (1, 20, 11),    # one row
    (13, 20, 1),    # one column
    (1, 1, 1),
    (3, 16, 5),     # exactly one tile, one full K chunk
    (9, 17, 10),    # K one beyond the buffer: two chunks
]


def saturation_case():
    """Operands that tell saturation semantics apart (the reproduction of issue 15): a 16-bit
    saturating int8 design, A 5 x 100, B 100 x 7, where column 3 first falls far below the
    range and then climbs back. Returns ``(array, a, b)``."""
    import numpy as np
    from systolic.rtl.config import ArrayConfig
    array = ArrayConfig(rows=2, cols=3, acc_width=16, overflow="saturate")
    a = np.full((5, 100), 127)
    a[2] = -128
    b = np.full((100, 7), 127)
    b[:50, 3] = -128
    return array, a, b


def clamped(value, lo, hi):
    return max(lo, min(hi, value))


def saturate_every_step(a, b, lo, hi):
    """The documented semantics, computed independently: each element's dot product clamped
    after every product, in order k = 0, 1, ..."""
    result = []
    for row in a.tolist():
        out = []
        for column in zip(*b.tolist()):
            acc = 0
            for x, y in zip(row, column):
                acc = clamped(acc + x * y, lo, hi)
            out.append(acc)
        result.append(out)
    return result


def saturate_each_chunk(a, b, lo, hi, depth):
    """What the engine once did: K split into the fewest chunks of at most ``depth`` steps, as
    equal as possible, each saturated from zero, the chunks' sums clamped once each (another
    semantics, which the tests tell apart)."""
    k = a.shape[1]
    count = -(-k // depth)
    sizes = [k // count + (1 if c < k % count else 0) for c in range(count)]
    starts = [sum(sizes[:c]) for c in range(count)]
    result = []
    for row in a.tolist():
        out = []
        for column in zip(*b.tolist()):
            total = 0
            for start, size in zip(starts, sizes):
                part = 0
                for x, y in zip(row[start:start + size], column[start:start + size]):
                    part = clamped(part + x * y, lo, hi)
                total = clamped(total + part, lo, hi)
            out.append(total)
        result.append(out)
    return result


#: Keys every ``systolic build --json`` report has, on every board.
BUILD_KEYS = ("board", "device", "fits", "lut", "ff", "dsp", "bram", "fmax_mhz", "target_mhz",
              "timing_met", "macs", "peak_gops", "bitstream", "config", "engine")
