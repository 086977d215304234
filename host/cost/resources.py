"""The design the cost model prices: its FPGA resources (from a build report or an analytic
estimate) and the cheapest device of its family that holds it."""

import math

from ...boards import catalog
from .data import CostInputError, load_cost_data

__all__ = ["estimate_resources", "design_from_build", "design_from_config", "device_price"]



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
