"""Synchronous read ports of on-chip buffers that leave read-write collisions undefined.

An Amaranth synchronous read port returns the old word when its address is written on the same
cycle. iCE40 block RAM leaves that case undefined, so Yosys builds the old-word rule in logic:
it delays every write by a cycle and gives each read port a bypass register, an address
comparator and a multiplexer: on the iCEBreaker's engine a large part of the device
(BENCHMARKS.md, "Fewer cells: the buffers' read ports and the accumulator's clear"). No buffer of ours is read and written at one address on one
cycle (each user says why), so the old-word rule is never used and its logic is waste.

:func:`buffer_read_port` builds the same synchronous port as an asynchronous read port followed
by a register. Yosys's ``memory_dff`` folds that register into the RAM's own read port and,
with the memory's ``no_rw_check`` attribute (:data:`NO_RW_CHECK`), marks the port as undefined
on a collision, so the RAM is used as it is. In simulation the port behaves as Amaranth's
synchronous read port: the register takes the word on cycles with ``en`` set.

A RAM's output register also has no defined value before its first read, while an Amaranth
signal always has one (zero); Yosys would build that zero in logic too (a flip-flop and a
multiplexer a bit). No user looks at the data before a read, so the register is marked with
:data:`UNDEFINED_INIT` and board builds run :data:`YOSYS_SCRIPT_AFTER_READ`, which drops the
initial value of marked signals.
"""

from amaranth.hdl import Signal
from amaranth.lib.memory import ReadPort

__all__ = ["NO_RW_CHECK", "UNDEFINED_INIT", "YOSYS_SCRIPT_AFTER_READ", "buffer_read_port",
           "buffer_attrs"]

#: Memory attribute telling Yosys that no read collides with a write to the same address.
NO_RW_CHECK = {"no_rw_check": 1}
#: Signal attribute: the signal's initial value is not used (see :data:`YOSYS_SCRIPT_AFTER_READ`).
UNDEFINED_INIT = "systolic_undefined_init"
#: Yosys commands, run after reading the design, that drop the initial value of the signals
#: marked with :data:`UNDEFINED_INIT`.
YOSYS_SCRIPT_AFTER_READ = f"setattr -unset init a:{UNDEFINED_INIT}"


def buffer_read_port(m, memory, latency=1):
    """Return a synchronous read port of ``memory`` whose collisions with writes are undefined.

    Parameters
    ----------
    m : Module
        The module the port's registers go in (``sync`` domain).
    memory : amaranth.lib.memory.Memory
        A memory whose attributes include :data:`NO_RW_CHECK`.
    latency : int
        Registers from the address to ``data``: 1 (the RAM's read register), or 2 with an
        output register after it (a RAM's own where the platform builds one,
        :func:`~.block_ram.registered_block_ram`). Every register advances on ``en``.

    Returns
    -------
    interface of ``ReadPort.Signature``
        ``addr`` and ``en`` as on :meth:`Memory.read_port`; ``data`` is the word at the
        ``addr`` of ``latency`` cycles with ``en`` set ago. Connect it like a memory's read port.
    """
    comb_port = memory.read_port(domain="comb")
    port = ReadPort.Signature(addr_width=len(comb_port.addr), shape=memory.shape).create()
    m.d.comb += comb_port.addr.eq(port.addr)
    value = comb_port.data
    for stage in range(latency):
        # Reset-less and of no initial value, as a RAM's registers: either would be logic.
        data = Signal(memory.shape, reset_less=True, attrs={UNDEFINED_INIT: 1},
                      name=f"read_data_{stage}" if stage else None)
        with m.If(port.en):
            m.d.sync += data.eq(value)
        value = data
    m.d.comb += port.data.eq(value)
    return port


def buffer_attrs(buffer_ram):
    """Attributes of a buffer :class:`~amaranth.lib.memory.Memory`: the RAM Yosys builds it from.

    ``buffer_ram="block"`` asks for no RAM kind, which leaves block RAM to Yosys as before the
    parameter existed (it takes block RAM for all but tiny memories); other kinds are asked
    for with ``ram_style``, which Yosys's ``memory_libmap`` honours. Every buffer is read
    through :func:`~systolic.rtl.lib.buffer_port.buffer_read_port` and carries its ``no_rw_check``.
    """
    kind = {} if buffer_ram == "block" else {"ram_style": buffer_ram}
    return {**kind, **NO_RW_CHECK}
