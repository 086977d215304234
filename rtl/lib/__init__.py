"""Gateware building blocks that know nothing of the array or the engine.

* :mod:`.uart` -- UART receiver and transmitter, baud divisors and their tolerance;
* :mod:`.stream_register` -- a registered ``amaranth.lib.stream`` stage;
* :mod:`.kept_register` -- registers synthesis must not merge with their equals;
* :mod:`.baud` -- bit timing as arithmetic (divisors, rates, tolerance), without Amaranth;
* :mod:`.buffer_port` -- buffer read ports without the old-word rule, buffer RAM attributes;
* :mod:`.block_ram` -- a buffer as a memory, or ECP5 block RAM with its output register;
* :mod:`.dp16kd_plan` -- how a buffer is cut into ECP5 block RAMs, without Amaranth;
* :mod:`.hard_multipliers` -- the families' hard multipliers and the PEs one serves, without Amaranth;
* :mod:`.platform` -- which FPGA family a platform builds for.
"""
