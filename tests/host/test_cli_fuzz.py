"""Random argument lists and random bytes as .npy files at every command (hypothesis).

Whatever comes in, a command ends with exit status 0, 1 or 2, never with a traceback, and
leaves no file behind when it fails. Commands that would run long on success (a board build,
a virtual board that serves until interrupted, a Verilator compile, the whole demo) get one
argument that makes them fail at their own checks, so that every command is reached and the
suite stays fast; simulations are kept small.
"""

import contextlib
import io
import os
import string
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from systolic.host import cli

#: Every subcommand, with the arguments appended to keep a success cheap (see the docstring).
COMMANDS = {
    "demo": ["--out", "/proc/systolic-demo"],
    "generate": [],
    "simulate": [],
    "cost": [],
    "report": [],
    "boards": [],
    "run": ["--port", "/nonexistent/tty"],
    "virtual-board": ["--max-payload", "1"],
    "build": ["--board", "no-such-board"],
}

#: Files the examples may name; created (or not) in a fresh directory for each example.
FILES = ["a.npy", "b.npy", "c.npy", "out.v", "plot.png", "plot.pdf", "build.json", "w.vcd",
         "sub/dir/x.npy", "missing.npy"]

_parser = cli.build_parser()


def _options(command):
    parser = _parser._subparsers._group_actions[0].choices[command]
    names = [name for action in parser._actions for name in action.option_strings
             if name not in ("-h", "--help", "--force", "--virtual", "--program")]
    choices = {name: list(action.choices) for action in parser._actions if action.choices
               for name in action.option_strings}
    return names, choices


#: Small and bad numbers: every range check is met from both sides, nothing runs long.
NUMBERS = st.sampled_from(["0", "1", "2", "3", "4", "-1", "65537", "1e400", "nan", "1.5", "8",
                           "1k", "$1.5M", "1e308", "300", "33", "0x10", " ", ""])
TEXT = st.text(alphabet=string.printable, max_size=8)
PATHS = st.sampled_from(FILES + ["-", "", ".", "/proc/x.npy", "/dev/null", "nope/"])


@st.composite
def argument_lists(draw, command):
    names, choices = _options(command)
    argv = [command]
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(names))
        argv.append(name)
        if name in choices:
            values = [str(c) for c in choices[name]]
            if "verilator" in values:      # a compile takes a minute: the others fail fast
                values.remove("verilator")
            argv.append(draw(st.sampled_from(values + ["bogus"])))
        elif name in ("--unsigned", "--json", "--no-tiling"):
            continue
        else:
            argv.append(draw(st.one_of(NUMBERS, PATHS, TEXT)))
    return argv + COMMANDS[command]


@st.composite
def npy_bytes(draw):
    """Random bytes, or a real .npy of a random small array (any dtype), or one cut short."""
    kind = draw(st.sampled_from(["random", "npy", "cut"]))
    if kind == "random":
        return draw(st.binary(max_size=200))
    dtype = draw(st.sampled_from(["int8", "uint8", "int16", "int64", "float32", "bool", "U3"]))
    shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
    array = np.zeros(shape, dtype=dtype)
    buffer = io.BytesIO()
    np.save(buffer, array)
    data = buffer.getvalue()
    return data[:draw(st.integers(0, len(data)))] if kind == "cut" else data


def _run(argv):
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    stderr = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            status = cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    return status, stderr.getvalue()


def _listing(directory):
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.mark.parametrize("command", sorted(COMMANDS))
@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_arguments_never_crash(command, data, tmp_path_factory, monkeypatch):
    work = tmp_path_factory.mktemp("fuzz")
    monkeypatch.chdir(work)
    monkeypatch.setenv("SYSTOLIC_BUILD_DIR", str(work / "builds"))
    for name in ("a.npy", "b.npy", "build.json"):
        if data.draw(st.booleans(), label=f"make {name}"):
            (work / name).write_bytes(data.draw(npy_bytes(), label=name))
    before = _listing(work)
    argv = data.draw(argument_lists(command), label="argv")
    status, err = _run(argv)
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err, (argv, err)
    if status != 0:
        assert _listing(work) == before, (argv, err)
    assert os.path.islink("/dev/stdout") or not Path("/dev/stdout").exists()
