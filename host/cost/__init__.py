"""The FPGA-versus-ASIC cost model: breakeven, die cost, yield and sensitivity.

The formulas are plain functions of numbers (each input's source is in ``cost_data.json``),
one module a concern:

* :mod:`.breakeven` -- total cost of an option, ``C(V) = NRE + unit * V``, and the breakeven
  volume ``V* = (NRE_asic - NRE_fpga) / (unit_fpga - unit_asic)``;
* :mod:`.silicon` -- dies per wafer, ``pi (d/2)^2 / A - pi d / sqrt(2 A)``, die yield (Poisson,
  Murphy, negative binomial), the cost of a packaged, tested part, ``(die + package + test) /
  final-test yield``, and an ASIC area from FPGA resources divided by the Kuon & Rose FPGA/ASIC
  area ratio;
* :mod:`.resources` -- the design priced: its FPGA resources (a build report, or an estimate
  that counts DSP blocks as the gateware fills them) and the smallest device that holds it;
* :mod:`.data` and :mod:`.inputs` -- the sourced inputs: :func:`reference_case` and
  :func:`derived_case` gather them, each with its value and source, from ``cost_data.json``
  and the device catalog;
* :mod:`.analysis` -- :func:`analyse` turns a case into the result the command line prints,
  with a tornado table of how the breakeven moves when each input moves by a fraction;
* :mod:`.text` and :mod:`.plot` -- that result as text and as a plot.

Nothing but :mod:`.plot` imports Amaranth, numpy or matplotlib; the functions of one number
also accept numpy arrays where the arithmetic allows. The names of the modules above are all
importable from here (``systolic.host.cost.analyse``, ...).
"""

from .analysis import analyse, evaluate, tornado, verdict
from .breakeven import breakeven_units, cheaper_option, compare_at, total_cost
from .data import DATA_FILE, CostInputError, load_cost_data, node_key
from .inputs import OPTION_NAMES, Assumption, Case, derived_case, reference_case
from .resources import design_from_build, design_from_config, device_price, estimate_resources
from .silicon import (YIELD_MODELS, asic_area_from_fpga, asic_estimate, die_cost, die_yield,
                      dies_per_wafer, gross_dies, ic_cost, kuon_rose_ratio, lut_area_um2,
                      yield_murphy, yield_negative_binomial, yield_poisson)

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
