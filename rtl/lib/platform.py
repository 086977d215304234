"""Which FPGA family an Amaranth platform builds for, as the gateware asks it."""

__all__ = ["platform_family"]


def platform_family(platform):
    """Return ``"ice40"``, ``"ecp5"``, ``"gowin"``, another lower-case family name, or ``None``.

    Amaranth's iCE40 platforms say ``"iCE40"``, its ECP5 platforms ``"ecp5"``, its Gowin
    platforms the device family (``"GW1NR-9C"``, ``"GW2A-18C"``).
    """
    family = getattr(platform, "family", None)
    if not family:
        return None
    family = str(family).lower()
    return "gowin" if family.startswith("gw") else family
