"""``--dataflow auto``: the dataflow the cycle model says is faster for one GEMM."""

import dataclasses
from dataclasses import dataclass

from ..rtl.config import DATAFLOWS, ArrayConfig

__all__ = ["DataflowChoice", "choose_dataflow", "with_dataflow"]


def with_dataflow(config, dataflow):
    """``config`` (an :class:`ArrayConfig` or an ``EngineConfig``) on ``dataflow``, every other
    parameter as it is."""
    if isinstance(config, ArrayConfig):
        return dataclasses.replace(config, dataflow=dataflow)
    return dataclasses.replace(config, array=dataclasses.replace(config.array, dataflow=dataflow))


@dataclass(frozen=True)
class DataflowChoice:
    """What ``--dataflow auto`` chose and why.

    Attributes
    ----------
    chosen : str
        The dataflow with the fewest cycles (output-stationary on a tie: the default).
    cycles : dict
        The model's cycles for the GEMM on each dataflow.
    measure : str
        What the cycles count (the engine's host-tiled GEMM, or the bare array's passes).
    """
    chosen: str
    cycles: dict
    measure: str

    @property
    def reason(self):
        """One sentence: the figures behind the choice."""
        other = [name for name in self.cycles if name != self.chosen]
        against = ", ".join(f"{self.cycles[name]:,} {name}" for name in other)
        relation = "as fast as" if all(self.cycles[n] == self.cycles[self.chosen] for n in other) \
            else "faster than"
        return (f"{self.chosen}: {self.cycles[self.chosen]:,} cycles, {relation} {against} "
                f"({self.measure})")

    def to_dict(self):
        """The choice as JSON: ``chosen``, ``cycles``, ``measure`` and ``reason``."""
        return {"chosen": self.chosen, "cycles": dict(self.cycles), "measure": self.measure,
                "reason": self.reason}


def choose_dataflow(config, m, k, n):
    """Time an ``m x k x n`` GEMM on each dataflow of ``config``'s design; return a
    :class:`DataflowChoice`.

    ``config`` is an ``EngineConfig`` (the engine: :func:`~systolic.sim.engine_perf.gemm_perf`,
    host tiling and every job's drain included, from the first START) or an
    :class:`ArrayConfig` (the bare array: :func:`~systolic.sim.model.gemm_cycles`).
    """
    if isinstance(config, ArrayConfig):
        from ..sim.model import gemm_cycles
        cycles = {name: gemm_cycles(m, k, n, with_dataflow(config, name)) for name in DATAFLOWS}
        measure = "the bare array's passes, by the cycle model"
    else:
        from ..sim.engine_perf import gemm_perf
        cycles = {name: gemm_perf(with_dataflow(config, name), m, k, n).cycles
                  for name in DATAFLOWS}
        measure = "the GEMM on the engine, host tiling included, by the engine model"
    chosen = min(DATAFLOWS, key=lambda name: (cycles[name], DATAFLOWS.index(name)))
    return DataflowChoice(chosen=chosen, cycles=cycles, measure=measure)
