"""Re-export of :class:`~systolic.rtl.engine.config.EngineConfig` and its limits.

The engine's parameters live in :mod:`systolic.rtl.engine.config`; this module keeps the name
``systolic.rtl.engine_config`` that the README and existing scripts import.
"""

from .engine.config import *  # noqa: F401,F403
from .engine.config import __all__  # noqa: F401
