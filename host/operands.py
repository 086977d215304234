"""Operand matrices from ``.npy`` files or a seeded random generator, checked for a design."""

import numpy as np

from ..sim.model import OperandError, check_operands
from .errors import UsageError

__all__ = ["load_matrix", "random_operands", "operands_from_args", "add_operand_options"]


def add_operand_options(parser):
    """Add ``--a/--b`` (.npy files) and ``--m/--k/--n/--seed`` (random operands)."""
    group = parser.add_argument_group("operands", "either two .npy files or a random M x K x N GEMM")
    group.add_argument("--a", metavar="A.npy", help="M x K integer matrix")
    group.add_argument("--b", metavar="B.npy", help="K x N integer matrix")
    group.add_argument("--m", type=int, default=8, help="rows of A for random operands (default 8)")
    group.add_argument("--k", type=int, default=16, help="inner dimension for random operands (default 16)")
    group.add_argument("--n", type=int, default=8, help="columns of B for random operands (default 8)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    return group


def load_matrix(path, name):
    """Load one matrix from ``path``; any failure becomes a one-line :class:`UsageError`."""
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"--{name.lower()}: no such file: {path}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"--{name.lower()}: cannot read {path} as a .npy array ({exc})") from None


def random_operands(m, k, n, config, seed=0):
    """Uniformly random A (M x K) and B (K x N) over the full operand ranges."""
    rng = np.random.default_rng(seed)
    a = rng.integers(config.a_range[0], config.a_range[1], size=(m, k), endpoint=True)
    b = rng.integers(config.b_range[0], config.b_range[1], size=(k, n), endpoint=True)
    return a, b


def operands_from_args(args, config):
    """Return checked ``(A, B)`` from the ``--a/--b`` files or from ``--m/--k/--n/--seed``."""
    if (args.a is None) != (args.b is None):
        raise UsageError("give both --a and --b, or neither (then --m/--k/--n/--seed make random operands)")
    if args.a is not None:
        a, b = load_matrix(args.a, "A"), load_matrix(args.b, "B")
    else:
        for name in ("m", "k", "n"):
            value = getattr(args, name)
            if not 1 <= value <= 1 << 16:
                raise UsageError(f"--{name}={value} is out of range: must be from 1 to {1 << 16}")
        a, b = random_operands(args.m, args.k, args.n, config, args.seed)
    try:
        return check_operands(a, b, config)
    except OperandError as exc:
        raise UsageError(str(exc)) from None
