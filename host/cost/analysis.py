"""A case evaluated: totals at each volume, the breakeven, the verdict, and a tornado table of
how the breakeven moves when each input moves by a fraction."""

import math

from ..money import quantity, usd
from .breakeven import breakeven_units, compare_at
from .data import CostInputError, load_cost_data
from .silicon import asic_estimate

__all__ = ["evaluate", "tornado", "verdict", "analyse"]



_ESTIMATE_KEYS = ("asic_area_mm2", "wafer_price", "defect_density", "mask_set", "design_effort",
                  "wafer_diameter_mm", "edge_exclusion_mm", "scribe_mm", "yield_model", "alpha",
                  "package", "test", "final_test_yield")


def evaluate(params):
    """Return the four costs and the breakeven of one set of inputs.

    Parameters
    ----------
    params : dict
        ``fpga_nre``, ``fpga_unit`` and either ``asic_nre`` and ``asic_unit`` or the inputs
        of :func:`asic_estimate` (then ``asic_nre`` / ``asic_unit``, if present, replace the
        estimate's results).

    Returns
    -------
    dict
        ``asic_nre``, ``asic_unit``, ``fpga_nre``, ``fpga_unit``, ``breakeven_units`` and,
        with an estimate, ``asic_estimate``.
    """
    out = {"fpga_nre": params["fpga_nre"], "fpga_unit": params["fpga_unit"]}
    if "asic_area_mm2" in params:
        estimate = asic_estimate(**{k: params[k] for k in _ESTIMATE_KEYS})
        out["asic_estimate"] = estimate
        out["asic_nre"], out["asic_unit"] = estimate["nre"], estimate["unit_cost"]
    for name in ("asic_nre", "asic_unit"):
        if name in params:
            out[name] = params[name]
    out["breakeven_units"] = breakeven_units(out["asic_nre"], out["asic_unit"],
                                             out["fpga_nre"], out["fpga_unit"])
    return out


def tornado(params, keys, swing=0.5):
    """Return how the breakeven moves when each input moves by ``+/- swing`` alone.

    Parameters
    ----------
    params : dict
        Inputs of :func:`evaluate`.
    keys : sequence of str
        The inputs to move.
    swing : float
        Relative move, in (0, 1): ``0.5`` moves each input to 50% and 150% of its value.

    Returns
    -------
    list of dict
        One row per input, widest swing first: ``input``, ``base``, ``low``, ``high`` (the
        moved values), ``breakeven_low``, ``breakeven_high`` (``None`` where there is no
        breakeven) and ``swing`` (the spread of the two breakevens, ``None`` when either is
        missing). Rows whose breakeven disappears come first.
    """
    if not 0 < swing < 1:
        raise CostInputError(f"swing={swing!r} is invalid: must be between 0 and 1")
    rows = []
    for key in keys:
        base = params[key]
        low, high = base * (1 - swing), base * (1 + swing)
        be_low = evaluate({**params, key: low})["breakeven_units"]
        be_high = evaluate({**params, key: high})["breakeven_units"]
        spread = None if be_low is None or be_high is None else abs(be_high - be_low)
        rows.append({"input": key, "base": base, "low": low, "high": high,
                     "breakeven_low": be_low, "breakeven_high": be_high, "swing": spread})
    return sorted(rows, key=lambda r: -math.inf if r["swing"] is None else -r["swing"])


def verdict(result):
    """Return one sentence reading the breakeven of an :func:`evaluate` result."""
    breakeven = result["breakeven_units"]
    if breakeven is None:
        return (f"No breakeven: the FPGA's unit cost ({usd(result['fpga_unit'])}) is not above "
                f"the ASIC's ({usd(result['asic_unit'])}), so the ASIC's NRE is never paid back.")
    if breakeven == 0:
        return "The ASIC is cheaper at every volume: its NRE is not above the FPGA's."
    return (f"Breakeven at {quantity(breakeven)} units: below it the FPGA is cheaper, "
            f"above it the ASIC.")


def _check_finite(result, volumes, swing):
    """Refuse inputs whose totals leave the range of floating point (1.8e308)."""
    largest = max(volumes) * (1 + swing)
    for option in ("fpga", "asic"):
        nre, unit = result[f"{option}_nre"], result[f"{option}_unit"]
        if not all(math.isfinite(x) for x in (nre, unit, (nre + unit * largest) * (1 + swing))):
            raise CostInputError(f"the {option.upper()} total at {quantity(max(volumes))} units overflows "
                                 f"(NRE {usd(nre)}, unit {usd(unit)}): give smaller amounts or "
                                 f"volumes")


def analyse(case, volumes=None, swing=None, data=None):
    """Return the full comparison of a case, JSON-serializable.

    Parameters
    ----------
    case : Case
        From :func:`reference_case` or :func:`derived_case`.
    volumes : sequence of int, optional
        Volumes to total (default: the data file's).
    swing : float, optional
        Relative move for the tornado (default: the data file's, 0.5).

    Returns
    -------
    dict
        ``breakeven_units``, ``breakeven_exists``, ``verdict``, ``fpga`` and ``asic``
        (``nre``, ``unit``), ``volumes`` (rows of :func:`compare_at`), ``tornado``,
        ``sensitivity``, ``assumptions``, and for a derived case ``asic_estimate`` and
        ``design``.
    """
    data = data or load_cost_data()
    volumes = list(volumes or data["volumes"]["value"])
    swing = data["sensitivity"]["value"] if swing is None else swing
    result = evaluate(case.params)
    _check_finite(result, volumes, swing)
    out = {
        "breakeven_units": result["breakeven_units"],
        "breakeven_exists": result["breakeven_units"] is not None,
        "verdict": verdict(result),
        "fpga": {"nre": result["fpga_nre"], "unit": result["fpga_unit"]},
        "asic": {"nre": result["asic_nre"], "unit": result["asic_unit"]},
        "volumes": compare_at(volumes, result["asic_nre"], result["asic_unit"],
                              result["fpga_nre"], result["fpga_unit"]),
        "sensitivity": swing,
        "tornado": tornado(case.params, case.sensitivity_keys, swing),
        "assumptions": [a.to_dict() for a in case.assumptions],
    }
    if "asic_estimate" in result:
        out["asic_estimate"] = result["asic_estimate"]
    if case.design is not None:
        out["design"] = case.design
    return out
