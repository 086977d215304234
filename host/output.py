"""Writing results: atomic files and machine-readable JSON."""

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import UsageError

__all__ = ["atomic_path", "write_atomic", "check_output_path", "print_json", "progress"]


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it into place only if the block succeeds.

    Readers never see a half-written file, and a failure leaves nothing behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_path(path, option, *, inputs=()):
    """Refuse (``UsageError``) an output ``path`` that is not a regular file or is one of
    ``inputs``: writing it would replace a directory, a device or the data being read.

    ``option`` names the command-line option in the message.
    """
    path = Path(path)
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise UsageError(f"{option} {path}: exists and is not a regular file; give a file name")
        for given in inputs:
            if Path(given).exists() and os.path.samefile(path, given):
                raise UsageError(f"{option} {path}: is an input of this command; write elsewhere")


def write_atomic(path, data):
    """Write ``data`` (``str`` or ``bytes``) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)


def print_json(obj, file=None):
    """Print one JSON object on one line (numpy scalars are converted)."""
    def default(value):
        if hasattr(value, "item"):
            return value.item()
        if isinstance(value, Path):
            return str(value)
        raise TypeError(f"cannot serialize {type(value).__name__}")
    print(json.dumps(obj, default=default, sort_keys=True), file=file or sys.stdout)


def progress(message, *, quiet=False):
    """Show a progress line on stderr (stdout stays clean for ``--json``)."""
    if not quiet:
        print(f"systolic: {message}", file=sys.stderr, flush=True)
