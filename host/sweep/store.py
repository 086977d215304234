"""Where a sweep keeps its results: one JSON record a point, written as the point finishes.

Layout under the sweep's ``--out`` directory::

    points/<point id>.json   one record a finished point (systolic.host.sweep_point)
    builds/<point id>/       build products of points built on this machine
    sweep.json               what was asked: the command line, axes, settings
    pareto-luts.png, pareto-price.png, sweep.html   the pictures and the report

Each record is written atomically, so an interrupted sweep (Ctrl-C, a killed worker, a power
cut) leaves every finished point whole and no half-written one; ``--resume`` reads them back.
"""

import json
from pathlib import Path

from ..errors import UsageError
from ..output import write_atomic

__all__ = ["SweepStore", "reusable"]


def reusable(record, settings):
    """Whether a stored ``record`` answers a point under ``settings``, so ``--resume`` skips it.

    Failed points are run again (their failure may have been the machine's); a record without
    a build does not answer a ``--build`` sweep, nor one of other GEMMs or another workload.
    """
    if record.get("status") not in ("ok", "invalid", "no-fit"):
        return False
    stored = record.get("settings", {})
    if stored.get("gemms") != [list(g) for g in settings["gemms"]]:
        return False
    if stored.get("workload") != settings.get("workload"):
        return False
    return record["status"] == "invalid" or stored.get("build") or not settings["build"]


class SweepStore:
    """The results of a sweep under ``root``.

    Parameters
    ----------
    root : path
        The ``--out`` directory; made when the first file is written.
    """

    def __init__(self, root):
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"--out {self.root}: exists and is not a directory")
        self.points_dir = self.root / "points"
        self.builds_dir = self.root / "builds"

    def path_of(self, record_id):
        """The file of the record ``record_id``."""
        return self.points_dir / f"{record_id}.json"

    def records(self):
        """Return ``{id: record}`` of every stored point (files that are not records are
        skipped)."""
        found = {}
        if not self.points_dir.is_dir():
            return found
        for path in sorted(self.points_dir.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and record.get("id") == path.stem:
                found[path.stem] = record
        return found

    def put(self, record):
        """Store ``record`` (replacing an earlier one of the same point)."""
        write_atomic(self.path_of(record["id"]), json.dumps(record, indent=1, sort_keys=True) + "\n")

    def write_meta(self, meta):
        """Write ``sweep.json``: what the sweep was asked to do."""
        write_atomic(self.root / "sweep.json", json.dumps(meta, indent=2, sort_keys=True) + "\n")
