"""Simulation: the numpy models of the array and the engine, and the simulators of the RTL.

Two tiers, as Glasgow keeps an applet's simulation apart from its hardware:

* the numpy tier, here (numpy only, no Amaranth): :mod:`.model` (the array's bit-exact
  ``matmul`` and cycle model), :mod:`.engine_model` (the engine's, event by event),
  :mod:`.engine_perf` (a whole GEMM timed job by job), :mod:`.engine_tiling` (the host's
  program for the engine), :mod:`.tiling` and :mod:`.packing` (the array's beats and rows),
  :mod:`.errors`;
* the simulator backends, :mod:`.backends`: the Amaranth simulator, Verilator and Icarus
  through cocotb or the compiled harnesses, and the build cache they share. They import their
  simulators lazily.
"""
