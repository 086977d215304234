"""The build report, ``build.json``: what ``systolic build`` writes and ``cost``, ``report`` and
``workload --from-build`` read. This module owns its schema: :func:`load_build` checks a file
against it, :func:`build_config` and :func:`build_clock` read it."""

import json
import math
from pathlib import Path

from ..boards import catalog
from ..rtl.config import ArrayConfig, ConfigError
from .errors import UsageError

__all__ = ["REPORT_NAME", "load_build", "build_config", "build_clock"]

#: File name of the report in the output directory.
REPORT_NAME = "build.json"


_BUILD_COUNTS = catalog.RESOURCES


def load_build(path):
    """Read and check the JSON report of ``systolic build --json``.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    dict
        The report. It has at least ``device`` (a catalog name), ``lut``, ``ff``, ``dsp``
        and ``bram`` (each ``{"used": n, "available": n}``), ``macs``, ``fmax_mhz`` (a
        number or ``None``), ``target_mhz`` and ``timing_met``; ``board``, ``fits``,
        ``peak_gops``, ``bitstream`` and ``config`` (``ArrayConfig.to_dict()``) are kept
        when present.

    Raises
    ------
    UsageError
        Naming the file and the key, if the file is unreadable or a key is missing or wrong.
    """
    where = f"--from-build {path}"
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where}: not a text file; expected the JSON output of 'systolic "
                         f"build --json'") from None
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: not JSON ({exc.msg} at line {exc.lineno}); expected the "
                         f"output of 'systolic build --json'") from None
    if not isinstance(report, dict):
        raise UsageError(f"{where}: expected a JSON object, the output of 'systolic build --json'")

    def need(key, check, allowed):
        if key not in report:
            raise UsageError(f"{where}: key {key!r} is missing; expected the output of 'systolic build --json'")
        if not check(report[key]):
            raise UsageError(f"{where}: {key}={report[key]!r} is invalid: must be {allowed}")

    def count(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def number(value):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    need("device", lambda v: isinstance(v, str) and v in catalog.devices(),
         f"a device of boards/devices.json: {', '.join(catalog.devices())}")
    for key in _BUILD_COUNTS:
        need(key, lambda v: isinstance(v, dict) and count(v.get("used")) and count(v.get("available")),
             '{"used": n, "available": n} with whole numbers n >= 0')
    need("macs", lambda v: count(v) and v >= 1, "a whole number >= 1")
    need("fmax_mhz", lambda v: v is None or (number(v) and v >= 0), "a number of MHz >= 0 or null")
    need("target_mhz", lambda v: number(v) and v > 0, "a number of MHz > 0")
    need("timing_met", lambda v: isinstance(v, bool), "true or false")
    if report.get("config") is not None:
        if not isinstance(report["config"], dict):
            raise UsageError(f"{where}: config must be a JSON object (ArrayConfig.to_dict()), "
                             f"got {type(report['config']).__name__}")
        try:
            config = ArrayConfig.from_dict(report["config"])
        except (ConfigError, TypeError, ValueError, AttributeError) as exc:
            raise UsageError(f"{where}: config is invalid: {exc}") from None
        if config.macs != report["macs"]:
            raise UsageError(f"{where}: macs={report['macs']} disagrees with its config, a "
                             f"{config.rows}x{config.cols} array of {config.macs} MACs")
    return report


def build_config(report):
    """Return the :class:`ArrayConfig` of a build report, or ``None`` if it has none."""
    if report.get("config") is None:
        return None
    return ArrayConfig.from_dict(report["config"])


def build_clock(report_, override):
    """Return ``(clock in MHz, its source)`` of a build report, ``override`` (MHz) winning."""
    if override is not None:
        return override, "command line (--clock-mhz)"
    if report_["timing_met"]:
        return report_["target_mhz"], "the build's target clock (timing met)"
    if report_["fmax_mhz"]:
        return report_["fmax_mhz"], "the build's Fmax (the target clock was not met)"
    raise UsageError("--from-build: the build met no timing and has no fmax_mhz; give --clock-mhz F")
