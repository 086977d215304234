"""The install's package list (pyproject.toml) against the tree: a wheel holds every module.

``[tool.setuptools] packages`` names each package; a directory of modules left out of it is
missing from a regular (non-editable) install, though an editable one still finds it.
"""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setuptools():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _directory(package, package_dirs):
    """The directory of a dotted package name, through ``package-dir``'s mapping."""
    parts = package.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in package_dirs:
            return ROOT / package_dirs[prefix] / Path(*parts[end:])
    return ROOT / Path(*parts)


def test_every_directory_of_modules_is_a_listed_package():
    config = _setuptools()
    package_dirs = config["package-dir"]
    listed = {_directory(package, package_dirs) for package in config["packages"]}
    module_dirs = {path.parent for root in package_dirs.values()
                   for path in (ROOT / root).rglob("*.py")}
    assert sorted(str(d.relative_to(ROOT)) for d in module_dirs - listed) == []


def test_every_listed_package_is_a_directory():
    config = _setuptools()
    missing = [package for package in config["packages"]
               if not _directory(package, config["package-dir"]).is_dir()]
    assert missing == []
