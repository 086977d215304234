"""The device catalog: resources and prices of the FPGAs we target, and the facts of their
families (PLL, block RAM, cell names), from ``devices.json``; the families' hard multipliers
are the gateware's (:func:`pes_per_multiplier`, from :mod:`systolic.rtl.lib.hard_multipliers`).

No Amaranth import here: the cost model, the reports and the board builds read the same catalog.
"""

import json
from functools import lru_cache
from importlib import resources

from ..rtl.lib.hard_multipliers import pes_per_multiplier

__all__ = ["devices", "device", "family", "families", "family_devices", "fits",
           "smallest_fitting", "pes_per_multiplier", "DATA_FILE", "RESOURCES"]

DATA_FILE = "devices.json"

#: The resource kinds a design uses and a device offers, as the build report counts them.
RESOURCES = ("lut", "ff", "dsp", "bram")


@lru_cache(maxsize=1)
def _data():
    return json.loads(resources.files(__package__).joinpath(DATA_FILE).read_text())


def _load():
    return _data()["devices"]


def families():
    """Return the names of the FPGA families in the catalog."""
    return [name for name in _data()["families"] if not name.startswith("_")]


def family(name):
    """Return the facts of one FPGA family (a fresh copy); ``KeyError`` names the known ones."""
    if name not in families():
        raise KeyError(f"unknown device family {name!r}; known: {', '.join(families())}")
    return json.loads(json.dumps(_data()["families"][name]))


def devices():
    """Return ``{name: facts}`` for every device in the catalog (a fresh copy)."""
    return json.loads(json.dumps(_load()))


def device(name):
    """Return the facts of one device; ``KeyError`` names the known devices otherwise."""
    catalog = _load()
    if name not in catalog:
        raise KeyError(f"unknown device {name!r}; known: {', '.join(sorted(catalog))}")
    return json.loads(json.dumps(catalog[name]))


def family_devices(family):
    """Return the names of the devices of ``family``, smallest first.

    Devices are ordered by LUTs, then hard multipliers, then block RAMs, then name.
    ``KeyError`` names the known families when ``family`` has no device.
    """
    catalog = _load()
    names = [name for name, facts in catalog.items() if facts["family"] == family]
    if not names:
        known = sorted({facts["family"] for facts in catalog.values()})
        raise KeyError(f"unknown device family {family!r}; known: {', '.join(known)}")
    return sorted(names, key=lambda n: (*(catalog[n][r] for r in ("lut", "dsp", "bram")), n))


def fits(facts, needs):
    """Return whether a device with resources ``facts`` holds a design needing ``needs``.

    ``needs`` maps resource kinds (see :data:`RESOURCES`) to counts; kinds it leaves out
    count as zero.
    """
    return all(needs.get(kind, 0) <= facts[kind] for kind in RESOURCES)


def smallest_fitting(family, needs):
    """Return the name of the smallest device of ``family`` that holds ``needs``, or ``None``."""
    for name in family_devices(family):
        if fits(_load()[name], needs):
            return name
    return None
