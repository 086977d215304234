"""The ``systolic`` command line.

Each subcommand lives in its own ``cmd_*`` module with a ``register(subparsers)`` function that
adds its parser and sets ``func``. Heavy imports (Amaranth, simulators, toolchains) happen
inside the commands, so ``systolic --help`` and the pure-Python commands start fast.
"""

import argparse
import importlib
import os
import sys

from ..rtl.config import ConfigError
from ..sim.errors import SimulationError
from .errors import UsageError

__all__ = ["main", "build_parser"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = [
    "cmd_demo",
    "cmd_generate",
    "cmd_simulate",
    "cmd_cost",
    "cmd_report",
    "cmd_boards",
    "cmd_run",
    "cmd_virtual_board",
    "cmd_build",
    "cmd_workload",
    "cmd_infer",
    "cmd_sweep",
]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # argparse's default prints the whole usage block; one line is easier to read in scripts.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _version():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("systolic")
    except PackageNotFoundError:       # run from a checkout that was never installed
        return "unknown"


def build_parser():
    """Return the top-level argument parser with every subcommand registered."""
    parser = _Parser(
        prog="systolic",
        description="Generate, simulate, build and cost parameterized systolic MAC arrays.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__package__}.{name}").register(subparsers)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args) or 0
    except (UsageError, ConfigError) as exc:
        print(f"systolic {args.command}: error: {exc}", file=sys.stderr)
        status = 2
    except SimulationError as exc:
        # The simulated hardware broke its protocol (a hang, a misflagged row, a wrong partial
        # sum): a failed check like a mismatch, not bad input.
        print(f"systolic {args.command}: error: {exc}", file=sys.stderr)
        status = 1
    except MemoryError:
        print(f"systolic {args.command}: error: out of memory; choose a smaller problem",
              file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print(f"systolic {args.command}: interrupted", file=sys.stderr)
        status = 130
    except BrokenPipeError:
        # The reader (`| head`, say) went away: not an error of ours. Point stdout at devnull
        # so that the interpreter's final flush does not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    return status


if __name__ == "__main__":
    sys.exit(main())
