"""``systolic virtual-board``: serve a simulated board on a pseudo-terminal until interrupted."""

import signal
import sys

from .link_options import add_board_options, start_virtual_board
from .output import print_json, progress

__all__ = ["register"]


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
