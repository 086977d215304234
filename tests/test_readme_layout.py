"""The README's Layout table against the tree: one line a module, nothing listed that is not
there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rtl", "sim", "boards", "host", "workloads")


def _layout_paths():
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return [re.match(r"\| `([^`]+)` \|", line).group(1)
            for line in section.splitlines() if line.startswith("| `")]


def test_every_module_has_one_line_in_the_layout_table():
    listed = _layout_paths()
    assert len(listed) == len(set(listed)), "a path is listed twice"
    modules = {str(path.relative_to(ROOT)) for package in PACKAGES
               for path in (ROOT / package).rglob("*.py") if path.name != "__init__.py"}
    assert modules - set(listed) == set(), "modules the README's Layout table does not list"


def test_the_layout_table_lists_only_what_is_there():
    missing = [path for path in _layout_paths() if not (ROOT / path).exists()]
    assert missing == []
