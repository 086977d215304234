"""Design-space sweeps, the parts behind ``systolic sweep`` (:mod:`systolic.host.cmd_sweep`).

* :mod:`.space` -- the axes, plan files, and the points they span;
* :mod:`.point` -- one point evaluated: the model's figures and, if asked, a real build;
* :mod:`.executors` -- local worker processes or a Dask cluster;
* :mod:`.store` -- one JSON record a point, written as it finishes;
* :mod:`.report` -- the Pareto fronts (PNG) and ``sweep.html``.
"""
