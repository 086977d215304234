"""Total cost of an option, ``C(V) = NRE + unit * V``, and the breakeven volume
``V* = (NRE_asic - NRE_fpga) / (unit_fpga - unit_asic)``."""

import math

__all__ = ["total_cost", "breakeven_units", "cheaper_option", "compare_at"]



def total_cost(nre, unit_cost, units):
    """Return the total cost of building ``units`` parts.

    Parameters
    ----------
    nre : float
        Non-recurring engineering cost (paid once).
    unit_cost : float
        Cost of each part.
    units : float or array_like
        Volume.

    Returns
    -------
    float or array_like
        ``nre + unit_cost * units`` (Smith, *Application-Specific Integrated Circuits*, 1.4).
    """
    return nre + unit_cost * units


def breakeven_units(asic_nre, asic_unit, fpga_nre, fpga_unit):
    """Return the volume above which the ASIC is cheaper than the FPGA, or ``None``.

    Parameters
    ----------
    asic_nre, asic_unit : float
        The ASIC's NRE and unit cost.
    fpga_nre, fpga_unit : float
        The FPGA's NRE and unit cost.

    Returns
    -------
    float or None
        ``(asic_nre - fpga_nre) / (fpga_unit - asic_unit)``. ``None`` when the FPGA's unit
        cost is not above the ASIC's: each ASIC part saves nothing, so its NRE is never paid
        back. ``0.0`` when the ASIC's NRE is not above the FPGA's either (the ASIC is
        cheaper at every volume).

    Examples
    --------
    >>> breakeven_units(1.5e6, 4.0, 0.0, 8.0)
    375000.0
    >>> breakeven_units(1.5e6, 8.0, 0.0, 8.0) is None
    True
    """
    saving = fpga_unit - asic_unit
    if saving <= 0:
        return None
    return max(0.0, (asic_nre - fpga_nre) / saving)


def cheaper_option(asic_nre, asic_unit, fpga_nre, fpga_unit, units):
    """Return ``"fpga"``, ``"asic"`` or ``"equal"``: the cheaper option at ``units`` parts."""
    fpga = total_cost(fpga_nre, fpga_unit, units)
    asic = total_cost(asic_nre, asic_unit, units)
    if math.isclose(fpga, asic, rel_tol=1e-12, abs_tol=1e-9):
        return "equal"
    return "fpga" if fpga < asic else "asic"


def compare_at(volumes, asic_nre, asic_unit, fpga_nre, fpga_unit):
    """Return one row per volume: both totals, the cost per part and the cheaper option.

    Returns
    -------
    list of dict
        Keys ``units``, ``fpga_total``, ``asic_total``, ``fpga_per_unit``,
        ``asic_per_unit``, ``cheaper``.
    """
    rows = []
    for units in volumes:
        fpga = total_cost(fpga_nre, fpga_unit, units)
        asic = total_cost(asic_nre, asic_unit, units)
        rows.append({
            "units": units, "fpga_total": fpga, "asic_total": asic,
            "fpga_per_unit": fpga / units, "asic_per_unit": asic / units,
            "cheaper": cheaper_option(asic_nre, asic_unit, fpga_nre, fpga_unit, units),
        })
    return rows
