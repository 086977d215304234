"""The FPGA-versus-ASIC cost model: breakeven, die cost, yield and sensitivity.

The formulas are plain functions of numbers (each input's source is in ``cost_data.json``):

* total cost of an option, ``C(V) = NRE + unit * V``, and the breakeven volume
  ``V* = (NRE_asic - NRE_fpga) / (unit_fpga - unit_asic)``;
* dies per wafer, ``pi (d/2)^2 / A - pi d / sqrt(2 A)``;
* die yield (Poisson, Murphy, negative binomial) and the cost of a packaged, tested part,
  ``(die + package + test) / final-test yield``;
* an ASIC area from FPGA resources divided by the Kuon & Rose FPGA/ASIC area ratio;
* a tornado table: how the breakeven moves when each input moves by a fraction.

On top of them, :func:`reference_case` and :func:`derived_case` gather the inputs, each with
its value and source, from ``cost_data.json`` and the device catalog, and :func:`analyse`
turns a case into the result the command line prints. Nothing here imports Amaranth or
numpy; the functions of one number also accept numpy arrays where the arithmetic allows.
"""

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from ..boards import catalog
from .money import quantity, usd

__all__ = [
    "CostInputError", "Assumption", "Case", "YIELD_MODELS", "DATA_FILE",
    "total_cost", "breakeven_units", "cheaper_option", "compare_at",
    "dies_per_wafer", "gross_dies", "yield_poisson", "yield_murphy", "yield_negative_binomial",
    "die_yield", "die_cost", "ic_cost",
    "kuon_rose_ratio", "lut_area_um2", "asic_area_from_fpga", "asic_estimate",
    "estimate_resources", "design_from_build", "design_from_config", "device_price",
    "load_cost_data", "node_key", "reference_case", "derived_case", "OPTION_NAMES",
    "evaluate", "tornado", "analyse", "verdict",
]

#: Name of the data file (beside this module) holding the model's sourced inputs.
DATA_FILE = "cost_data.json"
#: Yield models :func:`die_yield` knows.
YIELD_MODELS = ("poisson", "murphy", "negative-binomial")


class CostInputError(ValueError):
    """An input the cost model cannot use (unknown node, no price, a die too large, ...).

    The message says which input and what is allowed.
    """


# Total cost and breakeven ------------------------------------------------------------------

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


# Dies per wafer and yield ------------------------------------------------------------------

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


# ASIC area and cost from FPGA resources ----------------------------------------------------

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


# The design: FPGA resources and the device that holds them --------------------------------

def estimate_resources(config, facts):
    """Return a rough count of the FPGA resources an array needs on one device.

    This is an analytic estimate, not a synthesis result: PEs take hard multiplier blocks
    while there are some, as many PEs a block as the gateware puts on one
    (:func:`~systolic.boards.catalog.pes_per_multiplier`: two int8 PEs on an iCE40 SB_MAC16 or
    a Gowin 18 x 18 block, one on an ECP5 MULT18X18D, none where the operands are too wide);
    the rest multiply in ``a_width * b_width`` LUTs. Each processing element adds an
    accumulator adder and a result-readout mux (``acc_width`` LUTs each) and registers for its
    operands, product, accumulator and result. Control logic and I/O are not counted, nor
    block RAM.

    Parameters
    ----------
    config : ArrayConfig
        The array.
    facts : dict
        Device facts from the catalog (``family``, ``dsp``).

    Returns
    -------
    dict
        ``lut``, ``ff``, ``dsp`` (blocks), ``bram``.
    """
    macs = config.macs
    per_block = catalog.pes_per_multiplier(facts["family"], config.a_width, config.b_width)
    blocks = min(facts["dsp"], math.ceil(macs / per_block)) if per_block else 0
    in_dsp = min(macs, blocks * per_block)
    luts = (macs - in_dsp) * config.a_width * config.b_width + macs * 2 * config.acc_width
    ffs = macs * (config.a_width + config.b_width + config.product_width + 2 * config.acc_width)
    return {"lut": luts, "ff": ffs, "dsp": blocks, "bram": 0}


def design_from_build(build):
    """Return the design a ``systolic build`` report describes, on the smallest device that holds it.

    Parameters
    ----------
    build : dict
        A report as :func:`systolic.host.cmd_cost.load_build` returns it.

    Returns
    -------
    dict
        ``origin``, ``built_on``, ``device`` (the smallest device of the same family that
        holds the used resources), ``family``, ``needs`` (resource counts), ``luts``,
        ``hard_blocks`` and ``macs``.
    """
    built_on = build["device"]
    try:
        family = catalog.device(built_on)["family"]
    except KeyError as exc:
        raise CostInputError(exc.args[0]) from None
    needs = {kind: build[kind]["used"] for kind in catalog.RESOURCES}
    device = catalog.smallest_fitting(family, needs) or built_on
    return {
        "origin": "build report", "built_on": built_on, "device": device, "family": family,
        "needs": needs, "luts": needs["lut"], "hard_blocks": needs["dsp"] > 0 or needs["bram"] > 0,
        "macs": build["macs"],
    }


def design_from_config(config, device):
    """Return an array's design on the smallest device of ``device``'s family that holds it.

    Resources come from :func:`estimate_resources`.

    Raises
    ------
    CostInputError
        If ``device`` is unknown or no device of its family holds the array.
    """
    try:
        family = catalog.device(device)["family"]
    except KeyError as exc:
        raise CostInputError(exc.args[0]) from None
    facts = catalog.devices()
    for name in catalog.family_devices(family):
        needs = estimate_resources(config, facts[name])
        if catalog.fits(facts[name], needs):
            return {
                "origin": "analytic estimate (not a synthesis result)", "built_on": None,
                "device": name, "family": family, "needs": needs, "luts": needs["lut"],
                "hard_blocks": needs["dsp"] > 0 or needs["bram"] > 0, "macs": config.macs,
            }
    largest = catalog.family_devices(family)[-1]
    needs = estimate_resources(config, facts[largest])
    raise CostInputError(
        f"no {family} device holds a {config.rows}x{config.cols} array (estimated {needs['lut']} LUTs, "
        f"{needs['ff']} FFs on {largest}, which has {facts[largest]['lut']}); choose a smaller array")


def device_price(name, overrides=None, data=None):
    """Return the unit price of a catalog device in USD and its source, or ``(None, reason)``.

    Parameters
    ----------
    name : str
        Catalog device name.
    overrides : dict, optional
        ``{device: USD}`` given by the user; it wins over the catalog.

    Returns
    -------
    tuple of (float or None, str)
    """
    if overrides and name in overrides:
        return float(overrides[name]), f"command line (--device-price {name}=...)"
    price = catalog.device(name).get("price")
    if not price or price.get("amount") is None:
        return None, (f"the device catalog (boards/devices.json) has no published, dated price "
                      f"for {name}")
    amount, currency = float(price["amount"]), price.get("currency", "USD")
    dated = f", dated {price['date']}" if price.get("date") else ", undated"
    source = f"{price['source']}{dated}"
    if price.get("quantity"):
        source += f", {price['quantity']}-piece lot"
    if currency != "USD":
        rates = (data or load_cost_data())["exchange_rates"]
        if currency not in rates:
            return None, f"the catalog price of {name} is in {currency}, which has no exchange rate"
        rate = rates[currency]
        source += (f"; {currency} {amount:.2f} at {rate['value']} {rate['unit']} "
                   f"({rate['source']})")
        amount *= rate["value"]
    return amount, source


# Inputs with their sources ----------------------------------------------------------------

@dataclass(frozen=True)
class Assumption:
    """One input of the model: its value, unit and where the value comes from."""

    name: str
    value: object
    unit: str
    source: str

    def to_dict(self):
        """Return the assumption as a JSON-serializable dict."""
        return {"name": self.name, "value": self.value, "unit": self.unit, "source": self.source}


@dataclass
class Case:
    """The inputs of one cost comparison.

    Attributes
    ----------
    params : dict
        Flat numeric inputs that :func:`evaluate` reads.
    assumptions : list of Assumption
        Every input with its value and source, in the order to show them.
    sensitivity_keys : tuple of str
        The entries of ``params`` that the tornado moves.
    design : dict or None
        The design and device of a derived case.
    """

    params: dict
    assumptions: list = field(default_factory=list)
    sensitivity_keys: tuple = ()
    design: dict | None = None


@lru_cache(maxsize=1)
def _data_text():
    return resources.files(__package__).joinpath(DATA_FILE).read_text()


def load_cost_data():
    """Return the contents of ``cost_data.json`` (a fresh copy)."""
    return json.loads(_data_text())


def node_key(text, data=None):
    """Return the data-file key of a process node given as ``"28"``, ``"28nm"`` or ``"28 nm"``.

    Raises
    ------
    CostInputError
        If the node is not in the data file.
    """
    nodes = (data or load_cost_data())["nodes"]
    key = str(text).strip().lower().replace(" ", "")
    if not key.endswith("nm"):
        key += "nm"
    if key not in nodes:
        raise CostInputError(f"node={text!r} is unknown; known: {', '.join(nodes)}")
    return key


_CLI = "command line"
#: Command-line names of the inputs, for the sources of overridden values.
OPTION_NAMES = {
    "asic_nre": "--asic-nre", "asic_unit": "--asic-unit", "fpga_nre": "--fpga-nre",
    "fpga_unit": "--fpga-unit", "asic_area_mm2": "--asic-area", "area_ratio": "--area-ratio",
    "wafer_price": "--wafer-price", "mask_set": "--mask-set", "design_effort": "--design-effort",
    "defect_density": "--defect-density", "yield_model": "--yield-model", "alpha": "--alpha",
    "wafer_diameter_mm": "--wafer-diameter", "edge_exclusion_mm": "--edge-exclusion",
    "scribe_mm": "--scribe", "package": "--package", "test": "--test",
    "final_test_yield": "--final-test-yield",
}


class _Inputs:
    """Collects parameters and their assumptions, letting command-line values win."""

    def __init__(self, overrides):
        self.overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
        self.params = {}
        self.assumptions = []

    def add(self, name, value, unit, source, *, param=True):
        if name in self.overrides:
            value = self.overrides[name]
            source = f"{_CLI} ({OPTION_NAMES.get(name, name)})"
        self.assumptions.append(Assumption(name, value, unit, source))
        if param:
            self.params[name] = value
        return value


def reference_case(overrides=None, data=None):
    """Return the reference case (ASIC $1.5M + $4, FPGA $0 + $8), with command-line overrides.

    Parameters
    ----------
    overrides : dict, optional
        Any of ``asic_nre``, ``asic_unit``, ``fpga_nre``, ``fpga_unit``; ``None`` values
        are ignored.
    """
    data = data or load_cost_data()
    inputs = _Inputs(overrides)
    for name, entry in data["reference_case"].items():
        inputs.add(name, float(entry["value"]), entry["unit"], entry["source"])
    return Case(inputs.params, inputs.assumptions, ("asic_nre", "asic_unit", "fpga_nre", "fpga_unit"))


def derived_case(design, *, node=None, overrides=None, device_prices=None, data=None):
    """Return the case of a design: FPGA price from the catalog, ASIC estimated on a node.

    Parameters
    ----------
    design : dict
        From :func:`design_from_build` or :func:`design_from_config`.
    node : str, optional
        Process node (default: the data file's ``default_node``).
    overrides : dict, optional
        Command-line values by parameter name (see :data:`OPTION_NAMES`); ``None`` values
        are ignored. ``asic_nre`` and ``asic_unit`` replace the estimate's results.
    device_prices : dict, optional
        ``{device: USD}`` overriding catalog prices.

    Raises
    ------
    CostInputError
        If the device has no price and none was given, or an input is out of range.
    """
    data = data or load_cost_data()
    inputs = _Inputs(overrides)
    device = design["device"]

    # The FPGA side.
    inputs.add("device", device, "", _device_note(design), param=False)
    if "fpga_unit" in inputs.overrides:
        inputs.add("fpga_unit", None, "USD", "")
    else:
        price, source = device_price(device, device_prices, data)
        if price is None:
            raise CostInputError(f"{source}; give --fpga-unit USD or --device-price {device}=USD")
        inputs.add("fpga_unit", price, "USD", source)
    reference = data["reference_case"]["fpga_nre"]
    inputs.add("fpga_nre", float(reference["value"]), "USD", reference["source"])

    # The ASIC die.
    key = node_key(node or data["default_node"]["value"], data)
    facts = data["nodes"][key]
    inputs.add("node", key, "", _CLI + " (--node)" if node else data["default_node"]["source"],
               param=False)
    if "asic_area_mm2" in inputs.overrides:
        inputs.add("asic_area_mm2", None, "mm^2", "")
    else:
        fpga = data["fpga_area"]
        per_lut, how = lut_area_um2(data)
        ratio, ratio_source = kuon_rose_ratio(design["hard_blocks"], data)
        inputs.add("luts", design["luts"], "LUTs", design["origin"], param=False)
        inputs.add("lut_area_um2", per_lut, "um^2 per LUT", how, param=False)
        ratio = inputs.add("area_ratio", ratio, "x", ratio_source, param=False)
        inputs.add("fpga_node_nm", fpga["node_nm"]["value"], "nm", fpga["node_nm"]["source"],
                   param=False)
        inputs.add("area_scaling", fpga["node_scaling"]["value"], "",
                   fpga["node_scaling"]["source"], param=False)
        area = asic_area_from_fpga(design["luts"], per_lut, _positive("area_ratio", ratio),
                                   fpga["node_nm"]["value"], facts["nm"])
        inputs.add("asic_area_mm2", area, "mm^2",
                   "LUTs x area per LUT / area ratio x (node / FPGA node)^2")
    asic = data["asic"]
    for name in ("wafer_diameter_mm", "edge_exclusion_mm", "scribe_mm"):
        inputs.add(name, asic[name]["value"], asic[name]["unit"], asic[name]["source"])
    inputs.add("wafer_price", facts["wafer_price"], "USD per wafer",
               f"{facts['sources']['wafer_price']}, dated {facts['date']}")
    inputs.add("defect_density", facts["defect_density"], "defects/cm^2",
               facts["sources"]["defect_density"])
    inputs.add("yield_model", asic["yield_model"]["value"], "", asic["yield_model"]["source"])
    inputs.add("alpha", asic["alpha"]["value"], "", asic["alpha"]["source"])
    for name in ("package", "test", "final_test_yield"):
        inputs.add(name, asic[name]["value"], asic[name]["unit"], asic[name]["source"])
    mask = inputs.add("mask_set", facts["mask_set"], "USD",
                      f"{facts['sources']['mask_set']} ({key})")
    factor = asic["design_effort_factor"]
    inputs.add("design_effort", factor["value"] * mask, "USD",
               f"{factor['value']} x mask set; {factor['source']}")
    for name in ("asic_nre", "asic_unit"):
        if name in inputs.overrides:
            inputs.add(name, None, "USD", "")

    keys = ["fpga_unit", "fpga_nre", "asic_area_mm2", "wafer_price", "defect_density",
            "package", "test", "mask_set", "design_effort"]
    if "asic_unit" in inputs.params:
        keys = [k for k in keys if k not in ("asic_area_mm2", "wafer_price", "defect_density",
                                             "package", "test")] + ["asic_unit"]
    if "asic_nre" in inputs.params:
        keys = [k for k in keys if k not in ("mask_set", "design_effort")] + ["asic_nre"]
    return Case(inputs.params, inputs.assumptions, tuple(keys), design)


def _device_note(design):
    note = f"smallest {design['family']} device in boards/devices.json that holds the design"
    if design.get("built_on") and design["built_on"] != design["device"]:
        note += f" (built on {design['built_on']})"
    return note


def _positive(name, value):
    if not value > 0:
        raise CostInputError(f"{name}={value!r} is invalid: must be greater than 0")
    return value


# Evaluation and sensitivity ----------------------------------------------------------------

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
