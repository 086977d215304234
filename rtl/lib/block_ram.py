"""The engine's buffers as memories: Amaranth memories, or ECP5 block RAM with its output register.

:func:`buffer_memory` is the one place a buffer of the engine becomes a memory. Everywhere it is
an :class:`amaranth.lib.memory.Memory` with one write port and synchronous read ports
(:func:`~.buffer_port.buffer_read_port`), except where the silicon needs the primitive: on an
ECP5 with ``buffer_latency=2`` each buffer is built from ``DP16KD`` blocks whose read port uses
the block's own output register (``REGMODE_B="OUTREG"``). Yosys infers block RAM with the read
register only (``memory_libmap`` cannot absorb a second register), whose data then leaves the
block late in the cycle; the output register makes the block's clock-to-out short. Both builds
behave the same cycle for cycle: the data of a read appears two cycles after its address, and
the two registers advance on ``en``.

A read port may be *early* (``early_reads``): its user gives the address a cycle ahead, and the
buffer registers it before the memory, so that the data appear as for a port given the address
on time. The write port may be early too (``early_write``): address, enables and data a cycle
before the write. On the ECP5 each block has its own copies of those registers beside it: a
buffer wide enough to spread over the die is then not addressed from one flip-flop across all
of it.
"""

import math

from amaranth.hdl import C, Cat, ClockSignal, Const, Instance, Signal
from amaranth.lib.memory import Memory, ReadPort, WritePort
from amaranth.utils import ceil_log2

from .buffer_port import buffer_read_port
from .dp16kd_plan import DP16KD_MODES, dp16kd_plan, uses_dp16kd
from .kept_register import kept_register
from .platform import platform_family

__all__ = ["buffer_memory", "DP16KD_MODES"]


def buffer_memory(m, platform, *, name, layout, depth, latency, attrs, read_ports=1,
                  lane_enables=False, early_reads=(), early_write=False):
    """Add a buffer to ``m``; return its write port and its read ports.

    Parameters
    ----------
    m : Module
    platform : Platform or None
    name : str
        Names the submodules.
    layout : ArrayLayout
        One word of the buffer: its lanes.
    depth : int
        Words.
    latency : int
        ``buffer_latency``: 1 or 2 (see :func:`~.buffer_port.buffer_read_port`).
    attrs : dict
        Attributes of the Amaranth memory (:func:`~.buffer_port.buffer_attrs`).
    read_ports : int
        Read ports (block RAM provides each with a copy of the memory).
    lane_enables : bool
        A write enable a lane (``WritePort`` granularity 1), else one for the word.
    early_reads : collection of int
        The read ports (indices) whose ``addr`` is given a cycle ahead (``en`` must be 1).
    early_write : bool
        The write port's ``addr``, ``en`` and ``data`` are given a cycle ahead.

    Returns
    -------
    write : interface of ``WritePort.Signature``
    reads : list of interfaces of ``ReadPort.Signature``
    """
    if uses_dp16kd(platform_family(platform), latency):
        return _dp16kd_buffer(m, platform, name=name, layout=layout, depth=depth,
                              read_ports=read_ports, lane_enables=lane_enables,
                              early_reads=early_reads, early_write=early_write)
    m.submodules[name] = memory = Memory(shape=layout, depth=depth, init=[], attrs=attrs)
    write = memory.write_port(granularity=1) if lane_enables else memory.write_port()
    if early_write:
        early = write.signature.create()
        m.d.sync += [write.addr.eq(early.addr), write.en.eq(early.en), write.data.eq(early.data)]
        write = early
    reads = []
    for r in range(read_ports):
        read = buffer_read_port(m, memory, latency)
        if r in early_reads:
            early = ReadPort.Signature(addr_width=len(read.addr), shape=layout).create()
            m.d.sync += read.addr.eq(early.addr)
            m.d.comb += [read.en.eq(1), early.data.eq(read.data)]
            read = early
        reads.append(read)
    return write, reads


def _dp16kd_buffer(m, platform, *, name, layout, depth, read_ports, lane_enables, early_reads,
                   early_write):
    """The buffer as DP16KD blocks, port A writing, port B reading through ``OUTREG``."""
    width = layout.size
    lane = layout.size // layout.length if lane_enables else width
    data_width, address_bits, slot, blocks = dp16kd_plan(depth, width, lane)
    addr_width = ceil_log2(depth)
    signature = (WritePort.Signature(addr_width=addr_width, shape=layout, granularity=1)
                 if lane_enables else WritePort.Signature(addr_width=addr_width, shape=layout))
    write = signature.create()
    reads = [ReadPort.Signature(addr_width=addr_width, shape=layout).create()
             for _ in range(read_ports)]
    enables = write.en
    data = write.data.as_value()

    def address(addr):
        return Cat(C(0, 14 - address_bits), addr, C(0, 14))[:14]

    for r, read in enumerate(reads):
        out_pieces = []
        for b, block in enumerate(blocks):
            data_in = Signal(18, name=f"{name}_r{r}_b{b}_di")
            data_out = Signal(18, name=f"{name}_r{r}_b{b}_do")
            for p, (offset, bits, _) in enumerate(block):
                m.d.comb += data_in[p * slot:p * slot + bits].eq(data[offset:offset + bits])
                out_pieces.append((offset, data_out[p * slot:p * slot + bits]))
            write_addr = write.addr
            block_enables = Cat(*(enables[lane] for _, _, lane in block))
            if early_write:
                write_addr, block_enables, data_in = (
                    _kept_copy(m, platform, value, f"{name}_r{r}_b{b}_{what}")
                    for value, what in ((write_addr, "write_addr"), (block_enables, "we"),
                                        (data_in, "di_reg")))
            port_a = address(write_addr)
            if data_width == 18:
                byte_en = Cat(block_enables, C(0, 2 - len(block)))
                port_a = Cat(byte_en, port_a[2:])
                we = byte_en.any()
            else:
                we = block_enables[0]
            read_addr = read.addr
            if r in early_reads:
                read_addr = _kept_copy(m, platform, read.addr, f"{name}_r{r}_b{b}_addr")
            port_b = address(read_addr)
            m.submodules[f"{name}_r{r}_b{b}"] = Instance(
                "DP16KD",
                p_DATA_WIDTH_A=data_width, p_DATA_WIDTH_B=data_width,
                p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG",
                p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
                p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
                p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL", p_GSR="DISABLED",
                i_CLKA=ClockSignal("sync"), i_CEA=C(1, 1), i_OCEA=C(1, 1), i_RSTA=C(0, 1),
                i_WEA=we, i_CLKB=ClockSignal("sync"), i_CEB=read.en, i_OCEB=read.en,
                i_RSTB=C(0, 1), i_WEB=C(0, 1),
                **{f"i_CSA{i}": C(0, 1) for i in range(3)},
                **{f"i_CSB{i}": C(0, 1) for i in range(3)},
                **{f"i_ADA{i}": port_a[i] for i in range(14)},
                **{f"i_ADB{i}": port_b[i] for i in range(14)},
                **{f"i_DIA{i}": data_in[i] for i in range(18)},
                **{f"i_DIB{i}": C(0, 1) for i in range(18)},
                **{f"o_DOB{i}": data_out[i] for i in range(18)},
            )
        m.d.comb += read.data.as_value().eq(Cat(*(bits for _, bits in sorted(
            out_pieces, key=lambda piece: piece[0]))))
    return write, reads


def _kept_copy(m, platform, value, name):
    """A register of ``value`` beside its one user (see :func:`~.kept_register.kept_register`)."""
    copy = Signal(len(value), name=name)
    kept_register(m, platform, copy, value)
    return copy
