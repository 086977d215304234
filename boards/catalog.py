"""The device catalog: resources and prices of the FPGAs we target, from ``devices.json``.

No Amaranth import here: the cost model and the reports read the catalog without the gateware.
"""

import json
from functools import lru_cache
from importlib import resources

__all__ = ["devices", "device", "DATA_FILE"]

DATA_FILE = "devices.json"


@lru_cache(maxsize=1)
def _load():
    text = resources.files(__package__).joinpath(DATA_FILE).read_text()
    return json.loads(text)["devices"]


def devices():
    """Return ``{name: facts}`` for every device in the catalog (a fresh copy)."""
    return json.loads(json.dumps(_load()))


def device(name):
    """Return the facts of one device; ``KeyError`` names the known devices otherwise."""
    catalog = _load()
    if name not in catalog:
        raise KeyError(f"unknown device {name!r}; known: {', '.join(sorted(catalog))}")
    return json.loads(json.dumps(catalog[name]))
