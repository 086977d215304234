"""The packages' imports point one way: host -> boards -> rtl, host and sim -> rtl.

Read from the sources (every ``import`` and ``from ... import``, relative ones resolved, those
inside functions included), so a dependency against the direction fails here before it tangles
the packages.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The packages of ours each package may import besides itself.
ALLOWED = {
    "rtl": set(),
    "sim": {"rtl"},
    "boards": {"rtl"},
}


def _imports(path):
    """The ``systolic`` packages a module imports (the first name after ``systolic.``)."""
    # A relative import resolves against the module's package (an ``__init__``'s own).
    package = ("systolic", *path.relative_to(ROOT).parent.parts)
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                names = [".".join((*base, *([node.module] if node.module else [])))]
            else:
                names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found |= {name.split(".")[1] for name in names
                  if name.startswith("systolic.")}
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_packages_below_it(package):
    wrong = {str(path.relative_to(ROOT)): sorted(_imports(path) - ALLOWED[package] - {package})
             for path in sorted((ROOT / package).rglob("*.py"))}
    assert {path: names for path, names in wrong.items() if names} == {}
