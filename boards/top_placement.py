"""Where the PEs' hard multipliers go on an ECP5: the array's mesh laid onto the DSP rows.

An ECP5's MULT18X18D sites sit in a few rows across the die (the LFE5U-85F: three rows of 52).
Left to itself, nextpnr's placer legalises the multipliers onto free sites with no regard for
the mesh: a full 12 x 13 array ended with PEs' multipliers a die's width from their own
accumulators and neighbours, and routing made most of the critical path (BENCHMARKS.md,
"FPGA builds").
:func:`place_multipliers` instead gives every PE with a hard multiplier a site so that the
mesh stays short: the PEs are split, in row-major order, into one band a DSP row; within a band
they go column by column (the rows of a column next to each other), so vertical neighbours
are adjacent sites and horizontal ones a band's height of sites apart. PEs beyond the blocks
(they multiply in logic cells) are shared out over the bands, the last columns of each. The
sites reach nextpnr as the multiplier cells' ``BEL`` attribute.

The site names come from ``top_dsp_sites.json`` (see :func:`probe_dsp_sites`). No Amaranth
import at module level.
"""

import json
import math
import re
from functools import lru_cache
from importlib import resources

from . import catalog

__all__ = ["dsp_sites", "place_multipliers", "multiplier_sites", "probe_dsp_sites"]

_SITES_FILE = "top_dsp_sites.json"
_SITE = re.compile(r"^X(\d+)/Y(\d+)/")


@lru_cache(maxsize=1)
def _load():
    return json.loads(resources.files(__package__).joinpath(_SITES_FILE).read_text())["sites"]


def dsp_sites(device):
    """Return the MULT18X18D site names of a ``devices.json`` device, or ``None`` if unknown."""
    facts = catalog.device(device)
    if facts["family"] != "ecp5":
        return None
    sites = _load().get(facts["nextpnr_device"])
    return list(sites) if sites else None


def _rows_of_sites(sites):
    """Group site names by DSP row (Y), each row sorted by X; rows in Y order."""
    rows = {}
    for site in sites:
        x, y = (int(n) for n in _SITE.match(site).groups())
        rows.setdefault(y, []).append((x, site))
    return [[site for _, site in sorted(rows[y])] for y in sorted(rows)]


def place_multipliers(sites, rows, cols, count):
    """Return which PEs of a ``rows x cols`` array get one of ``count`` hard multipliers, and
    the site of each.

    The array is cut, in row-major order, into one band of PEs a DSP row (as many as ``count``
    blocks need): each band is its share of the ``count`` blocks plus its share of the PEs
    without one, the shares as equal as whole PEs make them. A band's PEs, column by column
    (the rows of a column next to each other), take contiguous sites centred in its DSP row
    until its blocks are used, and the rest of the band (its last columns) multiply in logic
    cells. So the PEs without a block are shared out over the DSP rows, each beside its own
    band, rather than all in the last band. With a block for every PE (``count == rows *
    cols``) each band is just its share of the blocks.

    Parameters
    ----------
    sites : list of str
        The device's MULT18X18D sites (``X<x>/Y<y>/MULT18_<n>``).
    rows, cols : int
        The array.
    count : int
        PEs that get a hard multiplier, at most ``rows * cols``.

    Returns
    -------
    dict
        ``(row, column)`` of each of the ``count`` PEs with a block: its site (all distinct).
    """
    dsp_rows = _rows_of_sites(sites)
    if count > len(sites):
        raise ValueError(f"count={count} is more than the {len(sites)} sites")
    pes = rows * cols
    if count > pes:
        raise ValueError(f"count={count} is more than the {pes} PEs")
    if count == 0:
        return {}
    width = min(len(row) for row in dsp_rows)
    bands = min(math.ceil(count / width), len(dsp_rows))
    # The DSP rows nearest the middle of the die, in Y order: the engine sits around them.
    middle = (len(dsp_rows) - 1) / 2
    chosen = sorted(sorted(range(len(dsp_rows)), key=lambda r: abs(r - middle))[:bands])

    def part(total, band):
        return round((band + 1) * total / bands) - round(band * total / bands)

    placed = {}
    start = 0
    for band, dsp_row in enumerate(chosen):
        # The band: its share of the blocks and its share of the PEs without one.
        share = part(count, band)
        end = start + share + part(pes - count, band)
        members = sorted(range(start, end), key=lambda k: (k % cols, k // cols))[:share]
        start = end
        row_sites = dsp_rows[dsp_row]
        if len(members) > len(row_sites):
            raise ValueError(f"{len(members)} PEs do not fit a DSP row of {len(row_sites)} sites")
        # Contiguous sites, centred in the row.
        first = (len(row_sites) - len(members)) // 2
        for offset, k in enumerate(members):
            placed[divmod(k, cols)] = row_sites[first + offset]
    return placed


def multiplier_sites(device, config, available):
    """Return the placement plan (see :func:`place_multipliers`) for the PEs of ``config``
    that get one of ``available`` hard multipliers on ``device``, or ``None`` where none are
    placed (iCE40, unknown sites, operands wider than a MULT18X18D)."""
    sites = dsp_sites(device)
    if not sites or max(config.a_width, config.b_width) > 18:
        return None
    count = min(config.macs, available, len(sites))
    return place_multipliers(sites, config.rows, config.cols, count)


def probe_dsp_sites(nextpnr_device, package, count, work_dir):
    """Ask nextpnr-ecp5 for the MULT18X18D sites of a die; return their names.

    Builds a design of ``count`` multipliers (the device's number), places it without routing
    and reads the cells' ``NEXTPNR_BEL`` attributes. How ``top_dsp_sites.json`` was made.
    """
    import subprocess
    from pathlib import Path
    from amaranth.back import rtlil
    from amaranth.hdl import Cat, Module, Signal
    from ..rtl.config import ArrayConfig
    from ..rtl.multiplier import MULT18X18DMultiplier
    from .toolchain import find_tool

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    m = Module()
    source = Signal(16, init=1)
    m.d.sync += source.eq(Cat(source[1:], source[0] ^ source[2] ^ source[3] ^ source[5]))
    folded = 0
    for k in range(count):
        mult = m.submodules[f"m{k}"] = MULT18X18DMultiplier(ArrayConfig())
        m.d.comb += [mult.a.eq(source[:8] ^ k), mult.b.eq(source[8:] + k)]
        folded = folded ^ mult.product.xor()
    out = Signal()
    m.d.sync += out.eq(folded)
    (work / "probe.il").write_text(rtlil.convert(m, ports=[out], name="top"))
    subprocess.run([str(find_tool("yosys")), "-q", "-p",
                    "read_rtlil probe.il; synth_ecp5 -top top; write_json probe.json"],
                   cwd=work, check=True)
    subprocess.run([str(find_tool("nextpnr-ecp5")), f"--{nextpnr_device}", "--package", package,
                    "--json", "probe.json", "--no-route", "--write", "placed.json",
                    "--timing-allow-fail", "-q"], cwd=work, check=True)
    design = json.loads((work / "placed.json").read_text())
    bels = [cell["attributes"]["NEXTPNR_BEL"] for module in design["modules"].values()
            for cell in module["cells"].values() if cell["type"] == "MULT18X18D"]
    return sorted(bels, key=lambda b: tuple(int(n) for n in _SITE.match(b).groups())[::-1])
