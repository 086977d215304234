"""The cost model's sourced inputs: ``cost_data.json`` (every value with its source) and the
error an input the model cannot use raises."""

import json
from functools import lru_cache
from importlib import resources

__all__ = ["CostInputError", "DATA_FILE", "load_cost_data", "node_key"]

#: Name of the data file (in :mod:`systolic.host`) holding the model's sourced inputs.
DATA_FILE = "cost_data.json"


class CostInputError(ValueError):
    """An input the cost model cannot use (unknown node, no price, a die too large, ...).

    The message says which input and what is allowed.
    """


@lru_cache(maxsize=1)
def _data_text():
    return resources.files(__package__.rpartition(".")[0]).joinpath(DATA_FILE).read_text()


def load_cost_data():
    """Return the contents of ``cost_data.json`` (a fresh copy)."""
    return json.loads(_data_text())


def node_key(text, data=None):
    """Return the data-file key of a process node given as ``"28"``, ``"28nm"`` or ``"28 nm"``.

    Raises
    ------
    CostInputError
        If the node is not in the data file.
    """
    nodes = (data or load_cost_data())["nodes"]
    key = str(text).strip().lower().replace(" ", "")
    if not key.endswith("nm"):
        key += "nm"
    if key not in nodes:
        raise CostInputError(f"node={text!r} is unknown; known: {', '.join(nodes)}")
    return key
