"""Writing results: checked output paths, atomic files, machine-readable JSON, progress.

Every command that writes a file goes through :func:`check_output` before any long work (so a
path that cannot be written is refused in one line, before minutes of simulation) and through
:func:`atomic_path` to write it:

* ``-`` means standard output;
* a regular file (or a new one) is written beside its destination and renamed over it only
  when complete, so readers never see half a file and a failure leaves nothing behind; a
  symbolic link keeps pointing where it did (the file it names is replaced, not the link);
* a device, a FIFO or a socket (``/dev/null``, ``/dev/stdout``) is never renamed over: the
  finished bytes are copied into it;
* missing directories are made when the file is put in place;
* a directory, an empty path, a directory that cannot be written and an input of the same
  command are refused with :class:`~systolic.host.errors.UsageError` naming the option.

New files get the permissions the umask allows, as ``open()`` would give them.
"""

import json
import os
import shutil
import stat
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError

__all__ = ["STDOUT", "Output", "check_output", "atomic_path", "write_atomic", "print_json",
           "progress", "Heartbeat", "format_duration"]

#: The path that means standard output.
STDOUT = "-"


@dataclass(frozen=True)
class Output:
    """A checked output destination (from :func:`check_output`).

    Attributes
    ----------
    path : str
        As the user gave it (``-`` for standard output).
    option : str
        The option that named it, for messages (``--out``).
    target : pathlib.Path or None
        Where the bytes go: the resolved file (a link's target), or ``None`` for standard
        output.
    stream : bool
        Whether the destination is written in place (standard output, a device, a FIFO)
        rather than renamed into place.
    workdir : pathlib.Path or None
        The existing directory the file is written in before it moves into place (its own
        directory, or the nearest existing one above when directories are still to be made).
    """

    path: str
    option: str
    target: Path | None
    stream: bool
    workdir: Path | None = None

    def __str__(self):
        return self.path

    def __fspath__(self):
        return self.path


def _describe(option, path):
    return f"{option} {path}" if option else str(path)


def check_output(path, option, *, inputs=(), stdout=True):
    """Check that ``path`` can be written, now, before any long work; return an :class:`Output`.

    Parameters
    ----------
    path : str or Path or Output
        The destination the user named.
    option : str
        The option that named it (``--out``, ``-o``), for messages.
    inputs : iterable of (str, path)
        ``(option, path)`` of the command's inputs (and of outputs checked before): the
        output may be none of them.
    stdout : bool
        Whether ``-`` (standard output) is allowed.

    Raises
    ------
    UsageError
        Naming ``option``: an empty path, a directory, a missing directory, a directory that
        cannot be written, or one of ``inputs``.
    """
    if isinstance(path, Output):
        return path
    text = os.fspath(path)
    where = _describe(option, repr(text) if not text.strip() else text)
    if not text.strip():
        raise UsageError(f"{where}: the path is empty; give a file name"
                         + (", or - for standard output" if stdout else ""))
    if text == STDOUT:
        if not stdout:
            raise UsageError(f"{where}: standard output is not possible here; give a file name")
        return Output(text, option, None, True)
    try:
        info = os.stat(text)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"{where}: cannot use this path ({exc.strerror})") from None
    if info is not None and stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{where}: is a directory; give a file name")
    target = Path(os.path.realpath(text))
    for other_option, other in inputs:
        if other is None or os.fspath(other) == STDOUT:
            continue
        if _same_file(target, other):
            raise UsageError(f"{where}: is also {_describe(other_option, other)}; "
                             f"give another file, so that it is not overwritten")
    if info is not None and (not stat.S_ISREG(info.st_mode) or _descriptor(text)):
        if not os.access(text, os.W_OK):
            raise UsageError(f"{where}: cannot write to it (permission denied)")
        return Output(text, option, target, True)
    # Missing directories are made when the file is put in place; the nearest one that
    # exists must take a new file now (access() says yes to root everywhere: try it).
    directory = target.parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not directory.is_dir():
        raise UsageError(f"{where}: {directory} is not a directory")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"{where}: cannot write in {directory} ({exc.strerror})") from None
    return Output(text, option, target, False, directory)


def _descriptor(path):
    """Whether ``path`` is, or links to, an open file descriptor (``/dev/stdout``,
    ``/dev/fd/1``, ``/proc/self/fd/1``): whatever it reaches is written in place, never
    replaced, even when the shell pointed it at a regular file."""
    path = os.path.abspath(path)
    for _ in range(40):
        if path.startswith(("/dev/fd/", "/dev/std", "/proc/")):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


def _same_file(target, other):
    try:
        return os.path.samefile(target, other)
    except OSError:
        return os.path.realpath(other) == str(target)


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path, option=""):
    """Yield a temporary path to write; put it in place only if the block succeeds.

    ``path`` is an :class:`Output` or a path (checked here with :func:`check_output` if it is
    not one yet). On success the file is renamed over a regular destination (with the
    umask's permissions) or copied into a stream destination; on any failure it is removed
    and the destination is untouched.
    """
    output = check_output(path, option)
    fd, tmp = tempfile.mkstemp(prefix=f".{Path(output.path).name or 'out'}.", suffix=".tmp",
                               dir=output.workdir)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        _commit(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)


def _commit(tmp, output):
    if output.target is None:
        sys.stdout.flush()
        with open(tmp, "rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        sys.stdout.flush()
        return
    try:
        # The path as given: a link like /dev/stdout resolves to a name (pipe:[...]) that only
        # the kernel can follow.
        current = os.stat(output.path)
    except FileNotFoundError:
        current = None
    if current is not None and (output.stream or not stat.S_ISREG(current.st_mode)):
        # Never rename over a device, a FIFO or a socket: write into it.
        with open(tmp, "rb") as source, open(output.path, "wb") as sink:
            shutil.copyfileobj(source, sink)
        return
    os.chmod(tmp, 0o666 & ~_umask())
    output.target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, output.target)


def write_atomic(path, data, option=""):
    """Write ``data`` (``str`` or ``bytes``) to ``path`` (an :class:`Output` or a path)."""
    with atomic_path(path, option) as tmp:
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


def format_duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


class Heartbeat:
    """A context manager that reports on stderr, every ``every_s`` seconds, that a long step
    is still running: how long it has run and, when known, about how long it should take.

    For steps that cannot report progress themselves (an elaboration, a simulation); nothing
    is printed for a step that ends within ``every_s`` seconds.

    Parameters
    ----------
    what : str
        The step, as in "still <what>".
    estimate_s : float, optional
        The expected duration.
    every_s : float
        Seconds between two lines.
    quiet : bool
        Print nothing.
    """

    def __init__(self, what, estimate_s=None, *, every_s=10.0, quiet=False):
        self.what = what
        self.estimate_s = estimate_s
        self.every_s = every_s
        self.quiet = quiet
        self._stop = threading.Event()
        self._thread = None

    def _run(self, started):
        while not self._stop.wait(self.every_s):
            elapsed = time.monotonic() - started
            line = f"still {self.what}: {format_duration(elapsed)}"
            if self.estimate_s:
                line += f" of about {format_duration(self.estimate_s)}"
            progress(line)

    def __enter__(self):
        if not self.quiet:
            self._thread = threading.Thread(target=self._run, args=(time.monotonic(),),
                                            daemon=True, name="systolic-heartbeat")
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
