"""Verilog output for our components."""

from amaranth.back import verilog
from amaranth.hdl import Const, Value

__all__ = ["to_verilog"]


def to_verilog(component, name):
    """Return the Verilog text of ``component`` as a top module called ``name``.

    Ports are the component's signature members. Members tied to a constant (such as the
    ``ready`` of an ``always_ready`` stream) are left out: they are not wires of the module.
    """
    ports = []
    for _path, _member, value in component.signature.flatten(component):
        value = Value.cast(value)
        if not isinstance(value, Const):
            ports.append(value)
    return verilog.convert(component, name=name, ports=ports, emit_src=False)
