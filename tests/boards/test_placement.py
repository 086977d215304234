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
    assert len(set(sites)) == 156
    at = {divmod(k, 13): site_xy(site) for k, site in enumerate(sites)}
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
    assert {site_xy(site)[1] for site in small} == {34}
    assert place_multipliers(dsp_sites("LFE5U-25F"), 2, 2, 0) == []
