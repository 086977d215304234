"""What an ASIC costs: dies per wafer, ``pi (d/2)^2 / A - pi d / sqrt(2 A)``; die yield
(Poisson, Murphy, negative binomial); a packaged, tested part, ``(die + package + test) /
final-test yield``; and its area from FPGA resources divided by the Kuon & Rose FPGA/ASIC area
ratio."""

import math

from .data import CostInputError, load_cost_data

__all__ = ["YIELD_MODELS", "dies_per_wafer", "gross_dies", "yield_poisson", "yield_murphy",
           "yield_negative_binomial", "die_yield", "die_cost", "ic_cost", "kuon_rose_ratio",
           "lut_area_um2", "asic_area_from_fpga", "asic_estimate"]



#: Yield models :func:`die_yield` knows.
YIELD_MODELS = ("poisson", "murphy", "negative-binomial")


def dies_per_wafer(wafer_diameter_mm, die_area_mm2):
    """Return the classic dies-per-wafer estimate (not rounded).

    Parameters
    ----------
    wafer_diameter_mm : float
        Usable wafer diameter ``d`` in mm.
    die_area_mm2 : float
        Area ``A`` of one die (with its share of scribe lane) in mm^2.

    Returns
    -------
    float
        ``pi * (d/2)**2 / A - pi * d / sqrt(2 * A)``: the wafer area over the die area, less
        the partial dies lost along the edge.

    Examples
    --------
    >>> round(dies_per_wafer(300, 100), 1)
    640.2
    """
    if wafer_diameter_mm <= 0 or die_area_mm2 <= 0:
        raise CostInputError("wafer diameter and die area must be positive")
    return (math.pi * (wafer_diameter_mm / 2) ** 2 / die_area_mm2
            - math.pi * wafer_diameter_mm / math.sqrt(2 * die_area_mm2))


def gross_dies(wafer_diameter_mm, die_area_mm2, edge_exclusion_mm=0.0, scribe_mm=0.0):
    """Return the whole dies on a wafer, with edge exclusion and scribe lane.

    Parameters
    ----------
    wafer_diameter_mm : float
        Wafer diameter in mm.
    die_area_mm2 : float
        Area of one (square) die in mm^2.
    edge_exclusion_mm : float
        Unusable ring at the wafer edge; the usable diameter is ``d - 2 * edge``.
    scribe_mm : float
        Scribe lane added to the die's side: the die pitch is ``sqrt(A) + scribe``.

    Returns
    -------
    int
        :func:`dies_per_wafer` of the usable diameter and the pitch squared, rounded down.

    Raises
    ------
    CostInputError
        If not one die fits.
    """
    usable = wafer_diameter_mm - 2 * edge_exclusion_mm
    if usable <= 0:
        raise CostInputError(f"edge exclusion {edge_exclusion_mm} mm leaves nothing of a "
                             f"{wafer_diameter_mm} mm wafer; it must be under half the diameter")
    pitch_area = (math.sqrt(die_area_mm2) + scribe_mm) ** 2
    count = math.floor(dies_per_wafer(usable, pitch_area))
    if count < 1:
        raise CostInputError(f"a {die_area_mm2:.4g} mm^2 die does not fit on a "
                             f"{wafer_diameter_mm} mm wafer")
    return count


def yield_poisson(defect_density, die_area_mm2):
    """Return the Poisson die yield ``exp(-D0 * A)``.

    Parameters
    ----------
    defect_density : float
        ``D0`` in defects per cm^2.
    die_area_mm2 : float
        Die area in mm^2 (converted to cm^2 here).
    """
    return math.exp(-defect_density * die_area_mm2 / 100)


def yield_murphy(defect_density, die_area_mm2):
    """Return Murphy's die yield ``((1 - exp(-D0 A)) / (D0 A))**2`` (``D0`` per cm^2, ``A`` mm^2)."""
    faults = defect_density * die_area_mm2 / 100
    if faults == 0:
        return 1.0
    return ((1 - math.exp(-faults)) / faults) ** 2


def yield_negative_binomial(defect_density, die_area_mm2, alpha):
    """Return the negative-binomial die yield ``(1 + D0 A / alpha)**-alpha``.

    Parameters
    ----------
    defect_density : float
        ``D0`` in defects per cm^2.
    die_area_mm2 : float
        Die area in mm^2.
    alpha : float
        Clustering parameter (larger: defects less clustered, towards Poisson).
    """
    if alpha <= 0:
        raise CostInputError(f"alpha={alpha!r} is invalid: the clustering parameter must be positive")
    return (1 + defect_density * die_area_mm2 / 100 / alpha) ** (-alpha)


def die_yield(model, defect_density, die_area_mm2, alpha=None):
    """Return the die yield under ``model`` (one of :data:`YIELD_MODELS`)."""
    if model == "poisson":
        return yield_poisson(defect_density, die_area_mm2)
    if model == "murphy":
        return yield_murphy(defect_density, die_area_mm2)
    if model == "negative-binomial":
        return yield_negative_binomial(defect_density, die_area_mm2, alpha)
    raise CostInputError(f"yield model {model!r} is unknown; known: {', '.join(YIELD_MODELS)}")


def die_cost(wafer_price, dies, yield_fraction):
    """Return the cost of one good die: ``wafer_price / (dies * yield)``."""
    return wafer_price / (dies * yield_fraction)


def ic_cost(die, package, test, final_test_yield=1.0):
    """Return the cost of a packaged, tested part: ``(die + package + test) / final-test yield``."""
    return (die + package + test) / final_test_yield


def kuon_rose_ratio(uses_hard_blocks, data=None):
    """Return the Kuon & Rose FPGA/ASIC area ratio and its source.

    Parameters
    ----------
    uses_hard_blocks : bool
        Whether the design uses hard multipliers or block RAM (ratio 18) or only LUTs and
        flip-flops (ratio 35).

    Returns
    -------
    tuple of (float, str)
    """
    entry = (data or load_cost_data())["kuon_rose"]["with_hard_blocks" if uses_hard_blocks else "logic_only"]
    return float(entry["value"]), entry["source"]


def lut_area_um2(data=None):
    """Return the FPGA silicon area per LUT in um^2 and how it was derived.

    The area is the whole iCE40 UP5K die divided by its LUTs, so each LUT carries its share
    of routing, RAM, multipliers and I/O.
    """
    area = (data or load_cost_data())["fpga_area"]
    value = area["die_width_mm"]["value"] * area["die_height_mm"]["value"] * 1e6 / area["luts"]["value"]
    how = (f"{area['die_width_mm']['value']} mm x {area['die_height_mm']['value']} mm iCE40 UP5K die "
           f"/ {area['luts']['value']} LUTs at {area['node_nm']['value']} nm "
           f"({area['die_width_mm']['source']})")
    return value, how


def asic_area_from_fpga(luts, lut_area, area_ratio, fpga_node_nm, node_nm):
    """Return the estimated ASIC die area in mm^2 of a design measured on an FPGA.

    Parameters
    ----------
    luts : int
        LUTs the design uses on the FPGA.
    lut_area : float
        FPGA silicon area per LUT in um^2 at ``fpga_node_nm``.
    area_ratio : float
        FPGA/ASIC area ratio (Kuon & Rose: 18 to 35).
    fpga_node_nm, node_nm : float
        Process node of the FPGA and of the ASIC; area scales with ``(node / fpga_node)**2``.

    Returns
    -------
    float
        ``luts * lut_area / area_ratio * (node_nm / fpga_node_nm)**2 / 1e6``.
    """
    return luts * lut_area / area_ratio * (node_nm / fpga_node_nm) ** 2 / 1e6


def asic_estimate(*, asic_area_mm2, wafer_price, defect_density, mask_set, design_effort,
                  wafer_diameter_mm, edge_exclusion_mm, scribe_mm, yield_model, alpha,
                  package, test, final_test_yield):
    """Return the unit cost and NRE of an ASIC with the given die and process.

    Parameters
    ----------
    asic_area_mm2 : float
        Die area in mm^2.
    wafer_price : float
        Price of one processed wafer.
    defect_density : float
        ``D0`` in defects per cm^2.
    mask_set, design_effort : float
        The two parts of the NRE.
    wafer_diameter_mm, edge_exclusion_mm, scribe_mm : float
        Wafer geometry (see :func:`gross_dies`).
    yield_model : str
        One of :data:`YIELD_MODELS`; ``alpha`` is its clustering parameter.
    package, test : float
        Cost per part of the package and of testing.
    final_test_yield : float
        Fraction of packaged parts that pass, in (0, 1].

    Returns
    -------
    dict
        ``area_mm2``, ``dies_per_wafer``, ``die_yield``, ``good_dies_per_wafer``,
        ``die_cost``, ``package``, ``test``, ``unit_cost``, ``mask_set``,
        ``design_effort``, ``nre``.
    """
    dies = gross_dies(wafer_diameter_mm, asic_area_mm2, edge_exclusion_mm, scribe_mm)
    good = die_yield(yield_model, defect_density, asic_area_mm2, alpha)
    die = die_cost(wafer_price, dies, good)
    return {
        "area_mm2": asic_area_mm2, "dies_per_wafer": dies, "die_yield": good,
        "good_dies_per_wafer": dies * good, "die_cost": die, "package": package, "test": test,
        "unit_cost": ic_cost(die, package, test, final_test_yield),
        "mask_set": mask_set, "design_effort": design_effort, "nre": mask_set + design_effort,
    }
