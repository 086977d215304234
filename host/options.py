"""Command-line options shared by the commands that describe an array design."""

import argparse

from ..rtl.config import ArrayConfig, OVERFLOW_MODES, WIDTH_RANGE, DIM_MAX

__all__ = ["add_array_options", "config_from_args"]

_DEFAULT = ArrayConfig()


def add_array_options(parser):
    """Add ``--rows --cols --width/--a-width/--b-width --acc-width --max-k --unsigned --overflow``."""
    group = parser.add_argument_group("array design")
    group.add_argument("--rows", type=int, default=_DEFAULT.rows, metavar="R",
                       help=f"array rows, 1 to {DIM_MAX} (default {_DEFAULT.rows})")
    group.add_argument("--cols", type=int, default=_DEFAULT.cols, metavar="C",
                       help=f"array columns, 1 to {DIM_MAX} (default {_DEFAULT.cols})")
    lo, hi = WIDTH_RANGE
    group.add_argument("--width", type=int, metavar="W",
                       help=f"width of both operands in bits, {lo} to {hi} (default {_DEFAULT.a_width})")
    group.add_argument("--a-width", type=int, metavar="W", help="width of the A operand (overrides --width)")
    group.add_argument("--b-width", type=int, metavar="W", help="width of the B operand (overrides --width)")
    group.add_argument("--acc-width", type=int, metavar="A",
                       help="accumulator width in bits (default: wide enough that a --max-k deep "
                            "dot product never overflows)")
    group.add_argument("--max-k", type=int, default=_DEFAULT.max_k, metavar="K",
                       help=f"deepest dot product the derived accumulator holds exactly (default {_DEFAULT.max_k})")
    group.add_argument("--unsigned", action="store_true", help="unsigned operands (default: signed)")
    group.add_argument("--overflow", choices=OVERFLOW_MODES, default=_DEFAULT.overflow,
                       help=f"accumulator overflow behaviour (default {_DEFAULT.overflow})")
    return group


def config_from_args(args):
    """Build the :class:`ArrayConfig` the options describe (raises ``ConfigError``)."""
    width = args.width if args.width is not None else _DEFAULT.a_width
    return ArrayConfig(
        rows=args.rows, cols=args.cols,
        a_width=args.a_width if args.a_width is not None else width,
        b_width=args.b_width if args.b_width is not None else width,
        signed=not args.unsigned,
        max_k=args.max_k,
        acc_width=args.acc_width,
        overflow=args.overflow,
    )
