"""The options of the commands that talk to a board over the wire protocol (``run``,
``infer``, ``virtual-board``): ``--port``/``--virtual``, the link rate, the design of a virtual
board, and opening the one they name."""

import argparse

from ..rtl.protocol import DEFAULT_BAUD, MIN_MAX_PAYLOAD
from .driver import DEFAULT_TIMEOUT, VIRTUAL_TIMEOUT
from .errors import UsageError
from .numbers import count_type, number_type
from .options import add_array_options, add_engine_options, engine_config_from_args
from .output import progress

__all__ = ["add_link_options", "check_link_args", "connect", "link_baud", "add_board_options",
           "start_virtual_board"]


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
    from ..sim.errors import BackendUnavailable
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


def add_link_options(parser, *, required=True):
    """Add ``--port PORT | --virtual`` (one required unless ``required=False``), ``--baud``,
    ``--board`` and ``--timeout``: what :func:`connect` and :func:`check_link_args` read (with
    the virtual board's design options, :func:`add_board_options`)."""
    target = parser.add_mutually_exclusive_group(required=required)
    target.add_argument("--port", metavar="PORT", help="serial port of the board (/dev/ttyUSB1)")
    target.add_argument("--virtual", action="store_true", help="start a virtual board and use it")
    parser.add_argument("--baud", type=count_type(1, None, "a positive whole number of bits a second"),
                        metavar="BAUD",
                        help=f"line rate of --port (default: the --board's default rate, else "
                             f"{DEFAULT_BAUD}); otherwise the rate to estimate a real UART's "
                             f"time at")
    parser.add_argument("--board", metavar="NAME",
                        help="the board on --port, built with its default link rate (see "
                             "'systolic boards'): that rate unless --baud gives another")
    parser.add_argument("--timeout", type=number_type("a number of seconds", 0, None, lo_open=True),
                        default=None, metavar="S",
                        help=f"seconds to wait for each reply (default {DEFAULT_TIMEOUT:g} for "
                             f"--port, {VIRTUAL_TIMEOUT:g} for --virtual)")


def check_link_args(args):
    """Refuse (``UsageError``) an unknown ``--board`` and design options given with ``--port``
    (a board reports its own design)."""
    if args.board is not None:
        from ..boards.platforms import UnknownBoardError, board
        try:
            board(args.board)
        except UnknownBoardError as exc:
            raise UsageError(f"--board: {exc}") from None
    if args.port is not None:
        changed = [f"--{name.replace('_', '-')}" for name, default in _design_defaults().items()
                   if name != "no_tiling" and getattr(args, name) != default]
        if changed:
            raise UsageError(f"{', '.join(changed)} describe(s) a virtual board; with --port the "
                             f"design is read from the board")


def _design_defaults():
    import argparse
    parser = argparse.ArgumentParser(add_help=False)
    add_board_options(parser)
    return vars(parser.parse_args([]))


def link_baud(args):
    """The line rate: ``--baud``, else the ``--board``'s default, else the driver's."""
    if args.baud is not None:
        return args.baud
    if args.board is not None:
        from ..boards.design import default_baud
        return default_baud(args.board)
    return DEFAULT_BAUD


def connect(args):
    """Open the accelerator ``--port`` or ``--virtual`` (with the design options) describe.

    Raises
    ------
    UsageError
        If the port cannot be opened or the virtual design cannot be built.
    """
    from ..sim.errors import BackendUnavailable
    from .driver import Accelerator, PortError
    if args.port is not None:
        try:
            return Accelerator.open(args.port, baud=link_baud(args),
                                    timeout=args.timeout or DEFAULT_TIMEOUT)
        except PortError as exc:
            raise UsageError(str(exc)) from None
    config = engine_config_from_args(args)
    progress(f"starting a virtual board: {config.describe()} (the first start of a design "
             f"compiles it with Verilator, about a minute)", quiet=args.json)
    try:
        return Accelerator.virtual(config, timeout=args.timeout or VIRTUAL_TIMEOUT,
                                   max_payload=args.max_payload)
    except BackendUnavailable as exc:
        raise UsageError(str(exc)) from None
    except ValueError as exc:     # the bridge's own parameter checks (max_payload, INFO fields)
        raise UsageError(str(exc)) from None
