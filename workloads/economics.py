"""Cost and energy per million inferences: this design on its FPGA, as an ASIC, and the GPU rows.

Hardware is bought once and runs flat out over its lifetime, so a million inferences cost the
share of the part's price that their time takes of the lifetime, plus the electricity they
use::

    seconds  = 1e6 / inferences_per_s
    hardware = price * seconds / lifetime
    energy   = power * seconds                      (J; / 3.6e6 for kWh)
    total    = hardware + energy in kWh * USD per kWh

The FPGA's and the ASIC's prices per part come from the cost model (:mod:`systolic.host.cost`,
``systolic cost``) at one volume; the ASIC runs the design at the FPGA's clock and draws the
FPGA's power divided by Kuon & Rose's dynamic power ratio. The reference accelerators
(``host/cost_data.json``) run at their peak int8 (or bf16) rate: an upper bound no network
reaches, which flatters them. Every input is returned with its source.
"""

from ..host import cost

__all__ = ["operation_defaults", "per_million", "economics"]

_SECONDS_PER_YEAR = 365.25 * 24 * 3600
_JOULES_PER_KWH = 3.6e6


def operation_defaults(data=None):
    """Return the ``operation`` inputs of ``cost_data.json`` as ``{name: entry}``."""
    data = data or cost.load_cost_data()
    return {k: v for k, v in data["operation"].items() if not k.startswith("_")}


def per_million(inferences_per_s, *, price_usd, power_w, lifetime_years, usd_per_kwh):
    """Return the cost and energy of a million inferences at ``inferences_per_s``.

    Returns
    -------
    dict
        ``hardware_usd`` (None without a price), ``energy_kwh`` and ``energy_usd`` (None
        without a power), ``usd`` (their sum, None unless both are known) and
        ``joules_per_inference``.
    """
    seconds = 1e6 / inferences_per_s
    hardware = None if price_usd is None else price_usd * seconds / (lifetime_years * _SECONDS_PER_YEAR)
    kwh = None if power_w is None else power_w * seconds / _JOULES_PER_KWH
    energy = None if kwh is None else kwh * usd_per_kwh
    return {"hardware_usd": hardware, "energy_kwh": kwh, "energy_usd": energy,
            "usd": None if hardware is None or energy is None else hardware + energy,
            "joules_per_inference": None if power_w is None else power_w / inferences_per_s}


def _row(name, inferences_per_s, basis, *, price_usd, price_source, power_w, power_source,
         lifetime_years, usd_per_kwh):
    return {"name": name, "inferences_per_s": inferences_per_s, "basis": basis,
            "price_usd": price_usd, "price_source": price_source,
            "power_w": power_w, "power_source": power_source,
            **per_million(inferences_per_s, price_usd=price_usd, power_w=power_w,
                          lifetime_years=lifetime_years, usd_per_kwh=usd_per_kwh)}


def economics(inferences_per_s, macs_per_inference, cost_result, *, power_w=None, units=None,
              lifetime_years=None, usd_per_kwh=None, data=None):
    """Return the cost and energy per million inferences of every row.

    Parameters
    ----------
    inferences_per_s : float
        This design's rate (:func:`~.report.network_report`'s ``totals``).
    macs_per_inference : int
        For the reference accelerators' peak-bound rate.
    cost_result : dict
        :func:`systolic.host.cost.analyse` of the design's case, at the single volume
        ``units``.
    power_w : float, optional
        The FPGA design's power.
    units, lifetime_years, usd_per_kwh : optional
        Override the data file's ``operation`` inputs.

    Returns
    -------
    dict
        ``rows`` (``name``, ``inferences_per_s``, ``basis``, ``price_usd``, ``power_w``,
        their sources, and :func:`per_million`'s keys) and ``assumptions`` (``name``,
        ``value``, ``unit``, ``source``).
    """
    data = data or cost.load_cost_data()
    inputs = operation_defaults(data)
    assumptions = []

    def take(name, given, option):
        entry = inputs[name]
        value = entry["value"] if given is None else given
        source = entry["source"] if given is None else f"command line ({option})"
        assumptions.append({"name": name, "value": value, "unit": entry["unit"], "source": source})
        return value

    lifetime = take("lifetime_years", lifetime_years, "--lifetime-years")
    kwh_price = take("usd_per_kwh", usd_per_kwh, "--usd-per-kwh")
    take("volume", units, "--units")
    ratio = take("asic_power_ratio", None, None)
    take("asic_clock", None, None)
    volume = cost_result["volumes"][0]
    common = {"lifetime_years": lifetime, "usd_per_kwh": kwh_price}
    design = cost_result.get("design")
    fpga_name = f"this design on {design['device']}" if design else "this design on an FPGA"
    price_note = f"per part at {volume['units']:,} units: unit cost + NRE / units (systolic cost)"
    power_note = "command line (--power)" if power_w is not None else "not given (--power W)"
    rows = [_row(fpga_name, inferences_per_s, "the engine model's cycles at the design's clock",
                 price_usd=volume["fpga_per_unit"], price_source=price_note, power_w=power_w,
                 power_source=power_note, **common)]
    estimate = cost_result.get("asic_estimate")
    node = next((a["value"] for a in cost_result["assumptions"] if a["name"] == "node"), None)
    rows.append(_row(f"ASIC estimate ({node})" if estimate and node else "ASIC",
                     inferences_per_s, "the same design at the same clock",
                     price_usd=volume["asic_per_unit"], price_source=price_note,
                     power_w=None if power_w is None else power_w / ratio,
                     power_source=(f"the FPGA's power / {ratio:g} (Kuon & Rose dynamic power "
                                   f"ratio)") if power_w is not None else power_note, **common))
    for ref in data["accelerators"]:
        rows.append(_row(ref["name"], ref["peak_ops_per_s"] / (2 * macs_per_inference),
                         f"peak {ref['precision']} rate (an upper bound)",
                         price_usd=ref["price_usd"], price_source=ref["source"],
                         power_w=ref["power_w"], power_source=ref["source"], **common))
    return {"rows": rows, "assumptions": assumptions}
