"""Where the PEs' hard multipliers go on an ECP5: the array's mesh laid onto the DSP rows
(boards/top_placement.py; no toolchain)."""

import re

import pytest

from systolic.boards.top_placement import dsp_sites, multiplier_sites, place_multipliers
from systolic.rtl.config import ArrayConfig


def site_xy(site):
    x, y = re.match(r"X(\d+)/Y(\d+)/MULT18_\d$", site).groups()
    return int(x), int(y)


@pytest.mark.parametrize("device", ["LFE5U-12F", "LFE5U-25F", "LFE5U-45F", "LFE5U-85F",
                                    "LFE5UM5G-85F"])
def test_every_ecp5_die_has_its_sites(device):
    from systolic.boards.catalog import device as facts
    sites = dsp_sites(device)
    assert len(sites) == len(set(sites)) == facts(device)["dsp"]
    assert all(site_xy(site) for site in sites)


def test_mesh_on_the_85f_dsp_rows():
    sites = multiplier_sites("LFE5U-85F", ArrayConfig(rows=12, cols=13), 156)
    assert len(set(sites.values())) == 156
    at = {pe: site_xy(site) for pe, site in sites.items()}
    # Four array rows a DSP row; within it the rows of a column are neighbouring sites.
    assert {at[(i, 0)][1] for i in range(12)} == {10, 34, 58}
    for i in range(12):
        for j in range(13):
            if i % 4 != 3:
                below = at[(i + 1, j)]
                assert below[1] == at[(i, j)][1] and 0 < below[0] - at[(i, j)][0] <= 5
            if j < 12:
                assert at[(i, j + 1)][1] == at[(i, j)][1]
                assert 0 < at[(i, j + 1)][0] - at[(i, j)][0] <= 12


def test_sites_only_for_the_pes_with_a_hard_multiplier():
    assert multiplier_sites("iCE40UP5K", ArrayConfig(), 8) is None
    assert multiplier_sites("LFE5U-85F", ArrayConfig(a_width=20), 156) is None
    assert len(multiplier_sites("LFE5U-85F", ArrayConfig(rows=16, cols=16), 156)) == 156
    small = multiplier_sites("LFE5U-85F", ArrayConfig(rows=4, cols=4), 156)
    # Sixteen fit one DSP row: the middle one, centred.
    assert {site_xy(site)[1] for site in small.values()} == {34}
    assert place_multipliers(dsp_sites("LFE5U-25F"), 2, 2, 0) == {}
    with pytest.raises(ValueError, match="count=5 is more than the 4 PEs"):
        place_multipliers(dsp_sites("LFE5U-85F"), 2, 2, 5)


@pytest.mark.parametrize("rows, cols", [(12, 16), (16, 12), (16, 16), (13, 13), (14, 14),
                                        (8, 24)])
def test_pes_without_a_block_are_shared_out_over_the_rows(rows, cols):
    """The PEs in logic cells are not all in the last band: every array row has about its
    share of them, and they are its last columns (the PEs with a block come first)."""
    sites = multiplier_sites("LFE5U-85F", ArrayConfig(rows=rows, cols=cols), 156)
    assert len(sites) == len(set(sites.values())) == 156
    share = (rows * cols - 156) / rows
    for i in range(rows):
        hard = [j for j in range(cols) if (i, j) in sites]
        assert hard == list(range(len(hard)))
        assert abs(cols - len(hard) - share) <= 2


@pytest.mark.parametrize("rows, cols", [(8, 16), (7, 17), (5, 22), (12, 16), (24, 8)])
def test_every_block_of_a_budget_is_placed(rows, cols):
    """Whatever the budget (`--dsp`), exactly that many PEs get a site, each its own (bands
    whose shares of the PEs and of the blocks round differently included)."""
    sites = dsp_sites("LFE5U-85F")
    for count in range(0, min(156, rows * cols) + 1):
        plan = place_multipliers(sites, rows, cols, count)
        assert len(plan) == len(set(plan.values())) == count, count
        assert all(0 <= i < rows and 0 <= j < cols for i, j in plan)


def test_the_12x16_array_is_three_bands_of_whole_columns():
    sites = multiplier_sites("LFE5U-85F", ArrayConfig(rows=12, cols=16), 156)
    assert set(sites) == {(i, j) for i in range(12) for j in range(13)}
    at = {pe: site_xy(site) for pe, site in sites.items()}
    assert [at[(i, 0)][1] for i in range(12)] == [10] * 4 + [34] * 4 + [58] * 4
