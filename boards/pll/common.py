"""What every family's PLL search shares: the error, the unit, the range and error checks."""

import math

__all__ = ["PLLError", "MHZ", "Dividers", "family_limits", "check_frequency", "check_error"]

MHZ = 1e6


class PLLError(ValueError):
    """A requested clock cannot be made: out of the PLL's range or off by too much."""


def family_limits(facts):
    """The ``f_*`` ranges in MHz of a PLL entry of devices.json, as ``{name: (lo, hi)}``."""
    return {key: tuple(value) for key, value in facts.items() if key.startswith("f_")}


def check_frequency(name, value_hz, limits_mhz, family):
    """Raise :class:`PLLError` unless ``value_hz`` is a frequency within ``limits_mhz``."""
    if isinstance(value_hz, bool) or not isinstance(value_hz, (int, float)) \
            or not math.isfinite(value_hz):
        raise PLLError(f"{name}={value_hz!r} is invalid: must be a frequency in Hz")
    lo, hi = limits_mhz
    if not lo <= value_hz / MHZ <= hi:
        raise PLLError(f"{name}={value_hz / MHZ:g} MHz is out of the {family} PLL range: "
                       f"must be from {lo:g} to {hi:g} MHz")


def check_error(config, max_error):
    """Return ``config`` unless its output is off the request by more than ``max_error``."""
    if max_error is not None and abs(config.error) > max_error:
        raise PLLError(f"f_out={config.f_requested / MHZ:g} MHz cannot be made from "
                       f"{config.f_in / MHZ:g} MHz within {max_error:.2%}: the closest is "
                       f"{config.f_out / MHZ:.4f} MHz ({config.error:+.2%})")
    return config


class Dividers:
    """What every family's divider setting has: the achieved frequency's relative error."""

    @property
    def error(self):
        """Relative error of the achieved frequency, ``f_out / f_requested - 1``."""
        return self.f_out / self.f_requested - 1
