"""Operand matrices from ``.npy`` files or a seeded random generator, checked for a design."""

import math

import numpy as np

from ..sim.model import OperandError, check_operands
from .errors import UsageError
from .numbers import count_type, seed_type

#: Largest M, K or N of random operands (the engine's wire protocol counts in 16 bits).
DIM_MAX = 1 << 16
#: How a .npy file starts, and a .npz archive (a zip file).
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"

__all__ = ["load_matrix", "random_operands", "operands_from_args", "add_operand_options"]


def add_operand_options(parser):
    """Add ``--a/--b`` (.npy files) and ``--m/--k/--n/--seed`` (random operands)."""
    group = parser.add_argument_group("operands", "either two .npy files or a random M x K x N GEMM")
    group.add_argument("--a", metavar="A.npy", help="M x K integer matrix")
    group.add_argument("--b", metavar="B.npy", help="K x N integer matrix")
    dim = count_type(1, DIM_MAX)
    group.add_argument("--m", type=dim, default=8, help="rows of A for random operands (default 8)")
    group.add_argument("--k", type=dim, default=16, help="inner dimension for random operands (default 16)")
    group.add_argument("--n", type=dim, default=8, help="columns of B for random operands (default 8)")
    group.add_argument("--seed", type=seed_type, default=0, help="random seed (default 0)")
    return group


def load_matrix(path, name):
    """Load one matrix from the ``.npy`` file ``path``; any failure becomes a one-line
    :class:`UsageError` naming the option and what is wrong.

    The header is read first, so that an archive, a text file, an object array, an array
    that is not 2-D or a truncated file is told apart before any data is read.
    """
    option = f"--{name.lower()} {path}"
    try:
        with open(path, "rb") as handle:
            shape, dtype = _npy_header(handle, option)
            return np.load(handle, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{option}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{option}: is a directory, not a .npy file") from None
    except (OSError, ValueError, EOFError) as exc:
        raise UsageError(f"{option}: cannot read it as a .npy array ({exc})") from None


def _npy_header(handle, option):
    """Check the header of an open ``.npy`` file; return ``(shape, dtype)`` and leave the
    file at its start."""
    magic = handle.read(len(_NPY_MAGIC))
    if magic.startswith(_ZIP_MAGIC):
        raise UsageError(f"{option}: is an .npz archive (np.savez); save the one matrix with "
                         f"np.save")
    if magic != _NPY_MAGIC:
        raise UsageError(f"{option}: not a .npy file (it lacks the .npy signature; write the "
                         f"matrix with np.save)")
    handle.seek(0)
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    else:                # a later format: numpy's own reader checks it
        handle.seek(0)
        return None, None
    if dtype.hasobject:
        raise UsageError(f"{option}: holds Python objects (dtype {dtype}); save an integer "
                         f"matrix")
    if len(shape) != 2:
        raise UsageError(f"{option}: holds a {len(shape)}-dimensional array of shape "
                         f"{shape}; a matrix has 2 dimensions")
    data = handle.tell()
    handle.seek(0, 2)
    if handle.tell() - data < math.prod(shape) * dtype.itemsize:
        raise UsageError(f"{option}: is truncated: a {shape[0]}x{shape[1]} {dtype} matrix "
                         f"needs {math.prod(shape) * dtype.itemsize:,} bytes of data, the file "
                         f"has {handle.tell() - data:,}")
    handle.seek(0)
    return shape, dtype


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
        a, b = random_operands(args.m, args.k, args.n, config, args.seed)
    try:
        return check_operands(a, b, config)
    except OperandError as exc:
        raise UsageError(str(exc)) from None
