"""Gateware: processing element, systolic array and the accelerator around it.

Importing this package does not import Amaranth; the components live in submodules
(``systolic.rtl.array``, ...) and :mod:`systolic.rtl.config` is usable on its own.
"""

from .config import ArrayConfig, ConfigError

__all__ = ["ArrayConfig", "ConfigError"]
