"""Host side: the ``systolic`` command line, the board driver, reports and the cost model.

``from systolic.host import Accelerator`` gives the driver (:mod:`.driver`); it is loaded on
first use, so that importing this package (every ``systolic`` command does) stays light.
"""

__all__ = ["Accelerator"]

_LAZY = {"Accelerator": ".driver"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
