"""Read what the toolchain says about a build: utilisation, Fmax, timing.

The primary source is nextpnr's ``--report`` JSON; nextpnr's log (``<name>.tim``) and Yosys'
log (``<name>.rpt``) fill in what the JSON lacks (the iCE40 flip-flop count, the synthesized
cell counts) and are parsed on their own too, so the two can be checked against each other.
No Amaranth import here.
"""

import json
import re
from pathlib import Path

from . import catalog

__all__ = [
    "ReportError", "FAMILY_CELLS", "DSP_HALVES", "parse_nextpnr_log", "parse_yosys_log",
    "conflicting_drivers", "parse_nextpnr_report",
    "make_report", "format_report",
]

#: nextpnr cell type counted for each resource, by family (the ``cells`` of each family in
#: devices.json). ``lut`` is the fabric's logic slot (an iCE40 logic cell holds one LUT4, one
#: flip-flop and a carry; an ECP5 TRELLIS_COMB one LUT4 or half a carry; a Gowin LUT4 slot a
#: LUT or, in arithmetic mode, an ALU bit, counted apart), so its ``used`` is what limits a fit.
FAMILY_CELLS = {family: {key: cell for key, cell in catalog.family(family)["cells"].items()
                         if key != "dsp_half"}
                for family in catalog.families()}
#: Cells that take half of a family's ``dsp`` block: a Gowin 18 x 18 multiplier splits into
#: two 9 x 9 ones, which Yosys uses for operands up to 9 bits.
DSP_HALVES = {family: catalog.family(family)["cells"]["dsp_half"]
              for family in catalog.families() if "dsp_half" in catalog.family(family)["cells"]}
#: Resources whose available count is also in ``devices.json`` (report key -> catalog key). A
#: device entry may add ``nextpnr_available`` where the tool's figure differs from the rating.
CATALOG_KEYS = {"lut": "lut", "ff": "ff", "dsp": "dsp", "bram": "bram", "spram": "spram"}


class ReportError(RuntimeError):
    """A tool's output is missing or not in the expected form."""


# Logs ----------------------------------------------------------------------------------------

_UTIL_LINE = re.compile(r"^Info:\s+(\S+):\s+(\d+)/\s*(\d+)\s+\d+%\s*$")
# nextpnr prints the final line of a failing clock as a warning.
_FMAX_LINE = re.compile(r"^(?:Info|Warning): Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz"
                        r"\s+\((PASS|FAIL) at ([\d.]+) MHz\)")
_LC_LINE = re.compile(r"^Info:\s+(\d+) LCs used as (.+?)\s*$")
_IGNORED = re.compile(r"^Warning: net '([^']+)' does not exist in design, ignoring clock constraint")


def parse_nextpnr_log(text):
    """Return what a nextpnr log states.

    Returns
    -------
    dict
        ``utilisation``: ``{cell: {"used", "available"}}`` from the "Device utilisation" table;
        ``fmax``: ``{clock: {"achieved", "constraint", "pass"}}`` in MHz from the last (post-route)
        "Max frequency" line of each clock; ``lc_usage``: iCE40 packing counts such as
        ``{"LUT4 only": 71, "LUT4 and DFF": 78, "DFF only": 46, "CARRY only": 10}``;
        ``ignored_constraints``: clock nets named in constraints but absent from the design;
        ``warnings``, ``errors``: counts of such lines.
    """
    utilisation, fmax, lc_usage, ignored = {}, {}, {}, []
    warnings = errors = 0
    in_table = False
    for line in text.splitlines():
        line = line.rstrip()
        if line.startswith("Info: Device utilisation:"):
            in_table, utilisation = True, {}     # a later table (ECP5 prints two) wins
            continue
        if in_table:
            match = _UTIL_LINE.match(line)
            if match:
                utilisation[match.group(1)] = {"used": int(match.group(2)),
                                               "available": int(match.group(3))}
                continue
            in_table = False
        match = _FMAX_LINE.match(line)
        if match:
            fmax[match.group(1)] = {"achieved": float(match.group(2)),
                                    "constraint": float(match.group(4)),
                                    "pass": match.group(3) == "PASS"}
            continue
        match = _LC_LINE.match(line)
        if match:
            lc_usage[match.group(2)] = int(match.group(1))
            continue
        match = _IGNORED.match(line)
        if match:
            ignored.append(match.group(1))
        if line.startswith("Warning:"):
            warnings += 1
        elif line.startswith("ERROR:"):
            errors += 1
    return {"utilisation": utilisation, "fmax": fmax, "lc_usage": lc_usage,
            "ignored_constraints": ignored, "warnings": warnings, "errors": errors}


_STAT_HEADER = re.compile(r"^\d+(\.\d+)*\. Printing statistics\.")
_STAT_COUNT = re.compile(r"^\s+(\d+)\s+(\S+)\s*$")
_NOT_CELLS = {"wires", "ports", "cells", "submodules", "memories", "processes"}


def parse_yosys_log(text):
    """Return ``{"cells": {type: count}}`` from the last statistics Yosys printed.

    Of that report the design-hierarchy totals are used when present (they include
    submodules), else the top module's counts.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _STAT_HEADER.match(line)]
    if not starts:
        raise ReportError("the Yosys log has no statistics section")
    section = lines[starts[-1]:]
    for end, line in enumerate(section):
        if end and re.match(r"^\d+(\.\d+)*\. ", line):
            section = section[:end]
            break
    for i, line in enumerate(section):
        if line.strip() == "=== design hierarchy ===":
            section = section[i:]
            break
    cells = {}
    for line in section:
        match = _STAT_COUNT.match(line)
        if match and match.group(2) not in _NOT_CELLS and not match.group(2).startswith("$scope"):
            cells[match.group(2)] = int(match.group(1))
    return {"cells": cells}


_CONFLICT = re.compile(r"^Warning: multiple conflicting drivers for (\S+?):?$")
_DRIVER = re.compile(r"^\s+port (.+)$")


def conflicting_drivers(text):
    """Return the nets Yosys's ``check`` found driven more than once, from its log: a list of
    ``{"net": name, "drivers": [cell port, ...]}`` (empty for a sound netlist).

    Only the last ``check`` counts (``synth_*`` checks the netlist again at its end), so that
    a problem that a later pass removed is not reported.
    """
    lines = text.splitlines()
    checks = [i for i, line in enumerate(lines) if "Executing CHECK pass" in line]
    found = []
    current = None      # the conflict whose driver lines follow
    for line in lines[checks[-1] if checks else 0:]:
        match = _CONFLICT.match(line)
        driver = _DRIVER.match(line)
        if match:
            # Yosys names the net ``module.\\wire``; the wire is what the user can look up.
            current = {"net": match.group(1).partition(".")[2].lstrip("\\"), "drivers": []}
            found.append(current)
        elif driver and current is not None:
            current["drivers"].append(driver.group(1))
        else:
            current = None
    return found


def parse_nextpnr_report(path):
    """Load nextpnr's ``--report`` JSON (``utilization``, ``fmax``, ``critical_paths``)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the nextpnr report {path}: {exc}") from exc
    for key in ("utilization", "fmax"):
        if key not in data:
            raise ReportError(f"the nextpnr report {path} has no {key!r}")
    return data


# The report -------------------------------------------------------------------------------

def _critical_path(report, clock):
    """Summarise the worst register-to-register path of ``clock`` from nextpnr's report."""
    for path in report.get("critical_paths", []):
        if path.get("from") == f"posedge {clock}" and path.get("to") == f"posedge {clock}":
            steps = path.get("path", [])
            if not steps:
                return None
            by_type = {}
            for step in steps:
                by_type[step.get("type")] = by_type.get(step.get("type"), 0.0) + step["delay"]
            return {
                "from": steps[0]["from"]["cell"], "to": steps[-1]["to"]["cell"],
                "delay_ns": round(sum(step["delay"] for step in steps), 3),
                "routing_ns": round(by_type.get("routing", 0.0), 3),
                "logic_ns": round(sum(v for k, v in by_type.items() if k != "routing"), 3),
            }
    return None


def _main_clock(clocks, clock_net, target_hz):
    """Pick the main clock among those nextpnr timed.

    Flattening may prefix the net with the generator's instance name (``clockgen.clk``) and
    nextpnr may rename it after inserting a global buffer (``$glbnet$clockgen.clk``), so the
    net is matched by its last component; failing that, the clock constrained closest to
    the target is taken.
    """
    if clock_net in clocks:
        return clock_net
    matches = [c for c in clocks if re.split(r"[.$]", c)[-1] == clock_net]
    if len(matches) == 1:
        return matches[0]
    if len(clocks) == 1:
        return next(iter(clocks))
    if target_hz is not None and clocks:
        return min(clocks, key=lambda c: abs(clocks[c]["constraint_mhz"] - target_hz / 1e6))
    return None


def make_report(build_dir, name, device, *, clock_net="clk", target_hz=None):
    """Build the report dict of a finished build in ``build_dir``.

    Parameters
    ----------
    build_dir : path
        Directory holding ``<name>.report.json``, ``<name>.tim`` and ``<name>.rpt``.
    name : str
        The design name given to the build.
    device : str
        The device's key in ``devices.json``.
    clock_net : str
        Net of the main clock, as nextpnr names it.
    target_hz : float or None
        The frequency the main clock should reach; ``None`` takes nextpnr's constraint.

    Returns
    -------
    dict
        See :func:`systolic.boards.build.build` for the layout.
    """
    build_dir = Path(build_dir)
    facts = catalog.device(device)
    family = facts["family"]
    files = {"nextpnr_report": build_dir / f"{name}.report.json",
             "nextpnr_log": build_dir / f"{name}.tim",
             "yosys_log": build_dir / f"{name}.rpt"}
    for path in files.values():
        if not path.is_file():
            raise ReportError(f"{path} is missing: did the build finish?")
    pnr = parse_nextpnr_report(files["nextpnr_report"])
    log = parse_nextpnr_log(files["nextpnr_log"].read_text())
    synth = parse_yosys_log(files["yosys_log"].read_text())
    warnings = []

    cells = {cell: {"used": int(v["used"]), "available": int(v["available"])}
             for cell, v in sorted(pnr["utilization"].items())}
    resources = {}
    for key, cell in FAMILY_CELLS[family].items():
        if cell is not None and cell in cells:
            resources[key] = {"cell": cell, **cells[cell]}
    half = DSP_HALVES.get(family)
    if half in cells:
        # Counted in whole blocks, as the data sheet (and devices.json) counts them.
        dsp = resources.setdefault("dsp", {"cell": FAMILY_CELLS[family]["dsp"], "used": 0,
                                           "available": cells[half]["available"] // 2})
        dsp["used"] += -(-cells[half]["used"] // 2)
        dsp["cell"] = f"{dsp['cell']} + {half}/2"
    if family == "ice40":
        # An iCE40 logic cell has one flip-flop; nextpnr reports cells, not flip-flops, so
        # count the cells whose flip-flop is in use, from the packer's log lines.
        ffs = sum(n for kind, n in log["lc_usage"].items() if "DFF" in kind)
        netlist_ffs = sum(n for cell, n in synth["cells"].items() if cell.startswith("SB_DFF"))
        if not log["lc_usage"]:
            ffs = netlist_ffs
        elif ffs != netlist_ffs:
            warnings.append(f"nextpnr packed {ffs} flip-flops, Yosys mapped {netlist_ffs}")
        resources["ff"] = {"cell": "SB_DFF*", "used": ffs,
                           "available": cells["ICESTORM_LC"]["available"]}
    order = list(FAMILY_CELLS[family])
    resources = {key: resources[key] for key in sorted(resources, key=order.index)}
    # Where the tool offers more than the data sheet rates (the LFE5U-12F is a 25F die), the
    # catalog records the tool's figure apart; a design is warned about only when it uses more
    # than the rating.
    tool_figures = facts.get("nextpnr_available", {})
    for key, res in resources.items():
        res["percent"] = round(100 * res["used"] / res["available"], 1) if res["available"] else 0.0
        if key in CATALOG_KEYS:
            res["catalog"] = facts[CATALOG_KEYS[key]]
            expected = tool_figures.get(key, res["catalog"])
            if res["available"] != expected:
                warnings.append(f"{key}: nextpnr has {res['available']} {res['cell']} available, "
                                f"devices.json says {expected} for {device}")
            if res["used"] > res["catalog"]:
                warnings.append(f"{key}: {res['used']} used, more than the {res['catalog']} the "
                                f"data sheet rates {device} for")

    clocks = {}
    for clock, value in sorted(pnr["fmax"].items()):
        achieved, constraint = float(value["achieved"]), float(value["constraint"])
        clocks[clock] = {"fmax_mhz": round(achieved, 2), "constraint_mhz": round(constraint, 2),
                         "met": achieved >= constraint}
    if log["ignored_constraints"]:
        warnings.append("clock constraints ignored by nextpnr (no such net): "
                        + ", ".join(log["ignored_constraints"]))

    main = _main_clock(clocks, clock_net, target_hz)
    if main is None:
        warnings.append(f"no timing for the main clock {clock_net!r}; nextpnr timed: "
                        f"{', '.join(clocks) or 'nothing'}")
        clock = {"net": clock_net, "fmax_mhz": None, "constraint_mhz": None,
                 "target_mhz": None if target_hz is None else round(target_hz / 1e6, 4),
                 "met": False, "critical_path": None}
    else:
        c = clocks[main]
        target_mhz = c["constraint_mhz"] if target_hz is None else round(target_hz / 1e6, 4)
        clock = {"net": main, "fmax_mhz": c["fmax_mhz"], "constraint_mhz": c["constraint_mhz"],
                 "target_mhz": target_mhz,
                 "met": c["met"] and float(pnr["fmax"][main]["achieved"]) >= target_mhz,
                 "critical_path": _critical_path(pnr, main)}

    report = {
        "device": device, "family": family,
        "resources": resources,
        "cells": cells,
        "netlist": synth["cells"],
        "clock": clock,
        "clocks": clocks,
        "fmax_mhz": clock["fmax_mhz"], "target_mhz": clock["target_mhz"],
        "timing_met": clock["met"] and all(c["met"] for c in clocks.values()),
        "warnings": warnings,
        "files": {key: str(path) for key, path in files.items()},
    }
    # The four resources the cost model reads also sit at the top level, in the layout the
    # build report of the command line has ({"used", "available"} under the resource name).
    for key in ("lut", "ff", "dsp", "bram"):
        report[key] = {"used": resources[key]["used"], "available": resources[key]["available"]}
    report["fits"] = all(res["used"] <= res["available"] for res in resources.values())
    return report


def format_report(report):
    """Return the report as a few human-readable lines."""
    lines = [f"{report.get('board', report['device'])} ({report['device']})"]
    for key, res in report["resources"].items():
        lines.append(f"  {key:<7} {res['used']:>7} / {res['available']:<7} "
                     f"{res['percent']:5.1f} %  ({res['cell']})")
    clock = report["clock"]
    if clock["fmax_mhz"] is None:
        lines.append(f"  clock   {clock['net']}: no timing")
    else:
        verdict = "met" if report["timing_met"] else "NOT met"
        lines.append(f"  clock   {clock['net']}: Fmax {clock['fmax_mhz']:.2f} MHz, target "
                     f"{clock['target_mhz']:g} MHz: timing {verdict}")
    for warning in report["warnings"]:
        lines.append(f"  warning: {warning}")
    return "\n".join(lines)
