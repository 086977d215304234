"""The simulators that run the RTL and check it against the numpy tier of :mod:`systolic.sim`.

* :mod:`.runner` -- picks a backend by name (``amaranth``, ``verilator``, ``icarus``);
* :mod:`.amaranth_array`, :mod:`.amaranth_engine` -- the array and the engine in Amaranth's
  simulator;
* :mod:`.cocotb_array`, :mod:`.verilog_engine` -- their generated Verilog on Verilator (a
  compiled harness, ``harness/*.cpp``, or cocotb) and Icarus (cocotb); the cocotb benches
  :mod:`.cocotb_array_bench` and :mod:`.cocotb_engine_bench` share :mod:`.cocotb_streams`,
  the harnesses ``harness/harness.h``;
* :mod:`.verilog_build` and :mod:`.verilator_tools` -- the build cache and the tools.
"""
