"""The weight-stationary array's own protocol: weight loads that would overwrite a weight a PE
has not taken yet are held, exactly as long as ``weight_load_delay`` says.

(Results and cycle counts of whole GEMMs are in test_array.py, on both dataflows.)
"""

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from systolic.rtl.config import ArrayConfig
from systolic.rtl.ws_array import WSSystolicArray
from systolic.sim.model import matmul
from systolic.sim.packing import pack_ws_operands, unpack_result


def run_beats(config, beats, n_rows):
    """Offer ``beats`` one a cycle; return the cycle each was accepted and the result rows."""
    dut = WSSystolicArray(config)
    accepted, rows = [], []

    async def testbench(ctx):
        cycle = 0
        while len(rows) < n_rows:
            assert cycle < 500, "the array hangs"
            if len(accepted) < len(beats):
                ctx.set(dut.i_stream.valid, 1)
                ctx.set(Value.cast(dut.i_stream.payload), beats[len(accepted)])
                if ctx.get(dut.i_stream.ready):
                    accepted.append(cycle)
            else:
                ctx.set(dut.i_stream.valid, 0)
            if ctx.get(dut.o_stream.valid):
                rows.append(unpack_result(ctx.get(Value.cast(dut.o_stream.payload)), config))
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return accepted, rows


def random_passes(config, seed):
    """Two weight tiles, and two rows of A for each."""
    rng = np.random.default_rng(seed)
    tiles = [rng.integers(-128, 128, size=(config.rows, config.cols)) for _ in range(2)]
    return tiles, [rng.integers(-128, 128, size=(2, config.rows)) for _ in range(2)]


def greedy_beats(config, tiles, a):
    """The beats of a greedy feeder: the second tile's weights right after the first pass's
    two rows, long before the last PE has taken the first tile."""
    rows, cols = config.rows, config.cols
    zeros_a, zeros_c = [0] * rows, [0] * cols

    def load(tile, r):
        return pack_ws_operands(zeros_a, tiles[tile][rows - 1 - r].tolist(), zeros_c, row=False,
                                load=True, first=False, last=False, config=config)

    def row(p, i):
        return pack_ws_operands(a[p][i].tolist(), [0] * cols, zeros_c, row=True, load=False,
                                first=i == 0, last=i == 1, config=config)

    return ([load(0, r) for r in range(rows)] + [row(0, 0), row(0, 1)]
            + [load(1, r) for r in range(rows)] + [row(1, 0), row(1, 1)])


@pytest.mark.parametrize("rows, cols, pipeline", [(3, 4, 0), (3, 4, 1), (2, 1, 0), (1, 1, 0)])
def test_early_weight_loads_are_held_until_the_last_pe_took_its_weight(rows, cols, pipeline):
    config = ArrayConfig(rows=rows, cols=cols, pipeline=pipeline, dataflow="weight-stationary")
    tiles, a = random_passes(config, seed=rows * 10 + cols)
    accepted, results = run_beats(config, greedy_beats(config, tiles, a), 4)
    first = rows
    allowed = max(first + config.weight_load_delay, first + 2)
    expected = (list(range(rows)) + [first, first + 1] + list(range(allowed, allowed + rows))
                + [allowed + rows, allowed + rows + 1])
    assert accepted == expected
    # Two passes back to back would have their first rows min_pass_spacing apart.
    assert expected[rows + 2 + rows] - first == max(config.min_pass_spacing, rows + 2)
    for p in range(2):
        got = np.array([values for values, _ in results[2 * p:2 * p + 2]])
        assert np.array_equal(got, matmul(a[p], tiles[p], config))
        assert [last for _, last in results[2 * p:2 * p + 2]] == [False, True]


# weight_load_delay of at least 3: the greedy feeder offers the first load 2 cycles after the
# pass's first row, so the weakened array takes it exactly one cycle sooner than allowed.
@pytest.mark.parametrize("rows, cols", [(3, 4), (2, 3), (4, 4)])
def test_the_weight_load_delay_is_tight(monkeypatch, rows, cols):
    # An array built to let loads in one cycle sooner: the chain shifts once before the
    # bottom-right PE takes its weight, which then is the one of the PE above it.
    config = ArrayConfig(rows=rows, cols=cols, dataflow="weight-stationary")
    tiles, a = random_passes(config, seed=rows * 10 + cols)
    tiles[0][-1, -1], tiles[0][-2, -1] = 1, -1
    a[0][:, -1] = 100
    expected = matmul(a[0], tiles[0], config)
    sooner = config.weight_load_delay - 1
    monkeypatch.setattr(ArrayConfig, "weight_load_delay", property(lambda self: sooner))
    _, results = run_beats(config, greedy_beats(config, tiles, a), 4)
    got = np.array([values for values, _ in results[:2]])
    assert np.array_equal(got[:, :-1], expected[:, :-1])
    assert np.array_equal(got[:, -1], expected[:, -1] - 2 * 100)
