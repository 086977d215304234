"""Command-line options shared by the commands that describe an array design (and an engine).

Parameters travel one way: every design option defaults to ``None`` (not given), and
:func:`config_from_args` and :func:`engine_config_from_args` overlay the ones given on a base
design (the class defaults, or a board's default build) with
:func:`~systolic.rtl.config.overlay`, which is ``dataclasses.replace`` deriving again what the
base derived (the accumulator width, the default buffers, the word width).
"""

import argparse
import sys

from ..rtl.config import (ArrayConfig, DATAFLOWS, OVERFLOW_MODES, PIPELINE_MAX, WIDTH_RANGE,
                          DIM_MAX, overlay)
from ..rtl.engine.config import BLOCKS_MAX, K_DEPTH_MAX, EngineConfig

__all__ = ["add_array_options", "config_from_args", "add_engine_options", "engine_config_from_args",
           "array_options", "engine_options", "ENGINE_OPTIONS",
           "add_gemm_option", "check_gemm_option", "BATCH_MAX"]

_DEFAULT = ArrayConfig()
_ENGINE_DEFAULT = EngineConfig()

#: Most inferences a pass that ``--batch`` takes (``systolic workload`` and ``systolic sweep``).
BATCH_MAX = 1 << 16

#: Attribute names of the engine's buffer options (``None`` when not given on the command line).
ENGINE_OPTIONS = ("k_depth", "m_blocks", "n_blocks")


def add_array_options(parser, *, default=None, dataflows=DATAFLOWS):
    """Add ``--rows --cols --width/--a-width/--b-width --acc-width --max-k --unsigned --overflow
    --pipeline --dataflow``, every one ``None`` unless given (see :func:`array_options`).

    ``default`` says in the help where the values not given come from (``"the board's"``);
    unset, the help shows :class:`ArrayConfig`'s defaults. ``dataflows`` are the choices of
    ``--dataflow`` (a command may add its own, as ``systolic simulate`` adds ``auto``).
    """
    def said(value):
        return f"default: {default}" if default else f"default {value}"

    group = parser.add_argument_group("array design")
    group.add_argument("--rows", type=int, metavar="R",
                       help=f"array rows, 1 to {DIM_MAX} ({said(_DEFAULT.rows)})")
    group.add_argument("--cols", type=int, metavar="C",
                       help=f"array columns, 1 to {DIM_MAX} ({said(_DEFAULT.cols)})")
    lo, hi = WIDTH_RANGE
    group.add_argument("--width", type=int, metavar="W",
                       help=f"width of both operands in bits, {lo} to {hi} (default {_DEFAULT.a_width})")
    group.add_argument("--a-width", type=int, metavar="W", help="width of the A operand (overrides --width)")
    group.add_argument("--b-width", type=int, metavar="W", help="width of the B operand (overrides --width)")
    group.add_argument("--acc-width", type=int, metavar="A",
                       help="accumulator width in bits (default: wide enough that a --max-k deep "
                            "dot product never overflows)")
    group.add_argument("--max-k", type=int, metavar="K",
                       help=f"deepest dot product the derived accumulator holds exactly (default {_DEFAULT.max_k})")
    group.add_argument("--unsigned", action="store_true", help="unsigned operands (default: signed)")
    group.add_argument("--overflow", choices=OVERFLOW_MODES,
                       help=f"accumulator overflow behaviour (default {_DEFAULT.overflow})")
    group.add_argument("--pipeline", type=int, metavar="N",
                       help=f"extra register stages for clock speed, 0 to {PIPELINE_MAX}: 1 registers "
                            f"each product before its accumulator and the result mux in two levels, "
                            f"for 2 cycles more latency ({said(_DEFAULT.pipeline)})")
    group.add_argument("--dataflow", choices=dataflows,
                       help=f"the array's dataflow, and with it the GEMM engine's "
                            f"({said(_DEFAULT.dataflow)})")
    return group


def array_options(args):
    """The :class:`ArrayConfig` parameters the array options give, as a dict (those not given
    left out; ``--width`` sets both operand widths unless ``--a-width``/``--b-width`` do)."""
    given = {name: getattr(args, name) for name in ("rows", "cols", "acc_width", "max_k",
                                                    "overflow", "pipeline")}
    given["dataflow"] = getattr(args, "dataflow", None)
    given["a_width"] = args.a_width if args.a_width is not None else args.width
    given["b_width"] = args.b_width if args.b_width is not None else args.width
    given["signed"] = False if args.unsigned else None
    return {name: value for name, value in given.items() if value is not None}


def engine_options(args):
    """The buffer parameters the engine options give, as a dict (those not given left out)."""
    return {name: getattr(args, name) for name in ENGINE_OPTIONS
            if getattr(args, name, None) is not None}


def config_from_args(args, *, warn=True, base=None):
    """Return the :class:`ArrayConfig` the options describe: those given over ``base`` (default
    ``ArrayConfig()``). Raises ``ConfigError``.

    With ``warn``, an ``--acc-width`` too narrow for ``--max-k`` gets a warning on stderr:
    dot products deeper than the accumulator holds exactly will wrap or saturate.
    """
    config = overlay(_DEFAULT if base is None else base, **array_options(args))
    if warn and args.acc_width is not None and config.exact_k < config.max_k:
        print(f"systolic: warning: --acc-width {config.acc_width} holds every dot product exactly "
              f"only up to K={config.exact_k:,} (--max-k is {config.max_k:,}); deeper ones may "
              f"{'wrap' if config.overflow == 'wrap' else 'saturate'}", file=sys.stderr)
    return config


def add_engine_options(parser, *, default=None, tiling=True):
    """Add ``--k-depth --m-blocks --n-blocks`` (the GEMM engine's buffers, ``None`` unless given)
    and, with ``tiling``, ``--no-tiling``.

    ``default`` says in the help where the buffers not given come from (``"the board's"``);
    unset, the help shows :class:`EngineConfig`'s defaults.
    """
    group = parser.add_argument_group("GEMM engine" + (f" (default: {default})" if default else ""))
    group.add_argument("--k-depth", type=int, metavar="D",
                       help=f"operand buffer depth: the deepest K of one job, 1 to {K_DEPTH_MAX}"
                            + ("" if default else f" (default {_ENGINE_DEFAULT.k_depth})")
                            + "; deeper GEMMs accumulate K chunks")
    group.add_argument("--m-blocks", type=int, metavar="B",
                       help=f"blocks of R rows of A one operand bank holds, 1 to {BLOCKS_MAX}"
                            + ("" if default else " (default: max(ceil(128 / R), R, C), jobs at "
                                                  "least 128 rows)"))
    group.add_argument("--n-blocks", type=int, metavar="B",
                       help=f"blocks of C columns of B one operand bank holds, 1 to {BLOCKS_MAX}"
                            + ("" if default else " (default: max(ceil(128 / C), R, C), jobs at "
                                                  "least 128 columns)"))
    if tiling:
        group.add_argument("--no-tiling", action="store_true",
                           help="refuse a GEMM larger than the buffers instead of splitting it "
                                "into jobs")
    return group


def engine_config_from_args(args, array=None, *, base=None):
    """Return the :class:`EngineConfig` the options describe: the buffers given over ``base``
    (default ``EngineConfig(array)``), around ``array`` (default the array options'
    :func:`config_from_args`). Raises ``ConfigError``, also for a dataflow the engine lacks."""
    array = config_from_args(args) if array is None else array
    base = EngineConfig(array) if base is None else overlay(base, array=array)
    return overlay(base, **engine_options(args))


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
