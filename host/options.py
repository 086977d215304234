"""Command-line options shared by the commands that describe an array design (and an engine)."""

import argparse
import sys

from ..rtl.config import ArrayConfig, OVERFLOW_MODES, PIPELINE_MAX, WIDTH_RANGE, DIM_MAX
from ..rtl.engine.config import BLOCKS_MAX, K_DEPTH_MAX, EngineConfig

__all__ = ["add_array_options", "config_from_args", "add_engine_options", "engine_config_from_args",
           "ENGINE_OPTIONS", "add_gemm_option", "check_gemm_option"]

_DEFAULT = ArrayConfig()
_ENGINE_DEFAULT = EngineConfig()

#: Attribute names of the engine's buffer options (``None`` when not given on the command line).
ENGINE_OPTIONS = ("k_depth", "m_blocks", "n_blocks")


def add_array_options(parser):
    """Add ``--rows --cols --width/--a-width/--b-width --acc-width --max-k --unsigned --overflow
    --pipeline``."""
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
    group.add_argument("--pipeline", type=int, default=_DEFAULT.pipeline, metavar="N",
                       help=f"extra register stages for clock speed, 0 to {PIPELINE_MAX}: 1 registers "
                            f"each product before its accumulator and the result mux in two levels, "
                            f"for 2 cycles more latency (default {_DEFAULT.pipeline})")
    return group


def config_from_args(args, *, warn=True):
    """Build the :class:`ArrayConfig` the options describe (raises ``ConfigError``).

    With ``warn``, an ``--acc-width`` too narrow for ``--max-k`` gets a warning on stderr:
    dot products deeper than the accumulator holds exactly will wrap or saturate.
    """
    config = _config(args)
    if warn and args.acc_width is not None and config.exact_k < config.max_k:
        print(f"systolic: warning: --acc-width {config.acc_width} holds every dot product exactly "
              f"only up to K={config.exact_k:,} (--max-k is {config.max_k:,}); deeper ones may "
              f"{'wrap' if config.overflow == 'wrap' else 'saturate'}", file=sys.stderr)
    return config


def _config(args):
    width = args.width if args.width is not None else _DEFAULT.a_width
    return ArrayConfig(
        rows=args.rows, cols=args.cols,
        a_width=args.a_width if args.a_width is not None else width,
        b_width=args.b_width if args.b_width is not None else width,
        signed=not args.unsigned,
        max_k=args.max_k,
        acc_width=args.acc_width,
        overflow=args.overflow,
        pipeline=args.pipeline,
    )


def add_engine_options(parser):
    """Add ``--k-depth --m-blocks --n-blocks --no-tiling`` (the GEMM engine's buffers and tiling).

    The buffer options default to ``None`` so that a command can tell whether they were given;
    :func:`engine_config_from_args` fills in :class:`EngineConfig`'s defaults.
    """
    group = parser.add_argument_group("GEMM engine")
    group.add_argument("--k-depth", type=int, metavar="D",
                       help=f"operand buffer depth: the deepest K of one job, 1 to {K_DEPTH_MAX} "
                            f"(default {_ENGINE_DEFAULT.k_depth}); deeper GEMMs accumulate K chunks")
    group.add_argument("--m-blocks", type=int, metavar="B",
                       help=f"blocks of R rows of A one operand bank holds, 1 to {BLOCKS_MAX} "
                            f"(default: max(ceil(128 / R), R, C), jobs at least 128 rows)")
    group.add_argument("--n-blocks", type=int, metavar="B",
                       help=f"blocks of C columns of B one operand bank holds, 1 to {BLOCKS_MAX} "
                            f"(default: max(ceil(128 / C), R, C), jobs at least 128 columns)")
    group.add_argument("--no-tiling", action="store_true",
                       help="refuse a GEMM larger than the buffers instead of splitting it into jobs")
    return group


def engine_config_from_args(args, array=None):
    """Build the :class:`EngineConfig` the options describe around ``array`` (default: the
    array options' :func:`config_from_args`); raises ``ConfigError``."""
    array = config_from_args(args) if array is None else array
    given = {name: getattr(args, name) for name in ENGINE_OPTIONS if getattr(args, name) is not None}
    return EngineConfig(array, **given)


def _gemm(text):
    from .throughput import parse_gemm
    try:
        return parse_gemm(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--gemm {text!r} is invalid: "))


def add_gemm_option(parser):
    """Add ``--gemm M,K,N``: the reference GEMM of the sustained figures (parsed to a tuple;
    ``None`` when not given, see :func:`check_gemm_option`)."""
    from .throughput import REFERENCE_GEMM
    default = ",".join(map(str, REFERENCE_GEMM))
    parser.add_argument("--gemm", type=_gemm, metavar="M,K,N",
                        help=f"the reference GEMM of the sustained figures: A is M x K, B K x N, "
                             f"host-tiled to the engine's buffers (default {default})")


def check_gemm_option(engine, gemm):
    """Return the reference GEMM of ``--gemm`` (its default when not given); refuse
    (``UsageError``) one given that the engine model cannot time on ``engine``. (The default one
    gets ``None`` figures on such tiny buffers instead.)"""
    from .errors import UsageError
    from .throughput import REFERENCE_GEMM, check_gemm
    if gemm is None:
        return REFERENCE_GEMM
    try:
        check_gemm(engine, gemm)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return gemm
