"""The GEMM engine: the array between operand and result buffers, driven by command words.

One module a part, as Amaranth's ``lib/crc`` package keeps its algorithm parameters apart from
the gateware that computes them:

* :mod:`.config` -- :class:`~.config.EngineConfig`, the buffers' sizes (standard library only);
* :mod:`.protocol` -- the command words and the status word (standard library only);
* :mod:`.engine` -- :class:`~.engine.GemmEngine`, the component, and its parts:
  :mod:`.decoder` and :mod:`.loader` (commands and LOADs into the operand banks),
  :mod:`.tile_walk` and :mod:`.feeder` (the passes into the array), :mod:`.preloader`,
  :mod:`.writer` and :mod:`.drain` (the result buffer and the results out),
  :mod:`.layouts` (their shapes and memory ports) and :mod:`.beat_serializer` (a result beat
  as words, for a link that carries words).

Importing the package imports no Amaranth, so the numpy models and the host read
:mod:`.config` and :mod:`.protocol` without it; ``GemmEngine`` is loaded when first asked for.
"""

__all__ = ["GemmEngine"]


def __getattr__(name):
    if name == "GemmEngine":
        from .engine import GemmEngine
        return GemmEngine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
