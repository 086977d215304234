"""``systolic virtual-board``: serve a simulated board on a pseudo-terminal until interrupted."""

import argparse
import signal
import sys

from ..rtl.protocol import MIN_MAX_PAYLOAD
from .errors import UsageError
from .numbers import count_type
from .options import add_array_options, add_engine_options, engine_config_from_args
from .output import print_json, progress

__all__ = ["register", "add_board_options", "start_virtual_board"]


def add_board_options(parser, *, tiling=True):
    """Add the design of a virtual board: array, engine buffers, the bridge's frame size.

    ``tiling=False`` hides the host's ``--no-tiling`` (a board has no say in it).
    """
    add_array_options(parser)
    add_engine_options(parser)
    if not tiling:
        for action in parser._actions:
            if action.dest == "no_tiling":
                action.help = argparse.SUPPRESS
    # The bridge's own range, checked here, before the board is built and started.
    parser.add_argument("--max-payload", type=count_type(MIN_MAX_PAYLOAD, 0xFFFF),
                        default=MIN_MAX_PAYLOAD, metavar="BYTES",
                        help=f"longest frame payload the virtual board's bridge takes "
                             f"(default {MIN_MAX_PAYLOAD}, as on the boards)")


def start_virtual_board(args, *, quiet):
    """Build (or reuse) and start the virtual board the options describe.

    Raises
    ------
    UsageError
        For a design the board cannot have, or when Verilator or a compiler is missing.
    """
    from ..sim.verilog_build import BackendUnavailable
    from .virtual_board import VirtualBoard
    config = engine_config_from_args(args)
    progress(f"starting a virtual board: {config.describe()} (the first start of a design "
             f"compiles it with Verilator, about a minute)", quiet=quiet)
    try:
        return VirtualBoard(config, max_payload=args.max_payload)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:     # the bridge's own checks (max_payload, INFO fields)
        raise UsageError(str(exc)) from None


def register(subparsers):
    parser = subparsers.add_parser(
        "virtual-board", help="serve a simulated board on a pseudo-terminal",
        description="Run the board core (protocol bridge + GEMM engine) on Verilator behind a "
                    "pseudo-terminal and print its path; connect to it like to a board's "
                    "serial port (`systolic run --port PATH`, or Accelerator.open(PATH)). "
                    "Serves until interrupted (Ctrl-C).")
    add_board_options(parser, tiling=False)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object (port, pid, design) on stdout")
    parser.set_defaults(func=run)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def run(args):
    from .virtual_board import VirtualBoardError
    board = start_virtual_board(args, quiet=args.json)
    # A `kill` stops the board as cleanly as Ctrl-C does; and Ctrl-C works even when we were
    # started with SIGINT ignored (as shells do for background jobs), or we would never stop.
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if args.json:
            print_json({"port": board.port, "pid": board.pid,
                        "config": board.config.to_dict(), "build_s": board.build_s,
                        "reused": board.reused})
        else:
            print(board.port)
            progress(f"virtual board on {board.port}; e.g. `systolic run --port {board.port} "
                     f"--m 8 --k 16 --n 8`; Ctrl-C stops it")
        # Without flushing, a parent reading our stdout through a pipe would wait forever.
        sys.stdout.flush()
        while board.wait(timeout=1.0) is None:
            pass
        board.check()   # the simulation ended by itself: say why
        return 1
    except KeyboardInterrupt:
        progress("stopping the virtual board", quiet=args.json)
        return 0
    except VirtualBoardError as exc:
        print(f"systolic virtual-board: error: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        board.close()
