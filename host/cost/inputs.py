"""A case: every input of the model with its value and source, gathered from
``cost_data.json`` and the device catalog (:func:`reference_case`, :func:`derived_case`)."""

from dataclasses import dataclass, field

from .data import CostInputError, load_cost_data, node_key
from .resources import device_price
from .silicon import asic_area_from_fpga, kuon_rose_ratio, lut_area_um2

__all__ = ["Assumption", "Case", "OPTION_NAMES", "reference_case", "derived_case"]



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
