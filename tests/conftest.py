"""Shared fixtures."""

import pytest

from systolic.host import cli


@pytest.fixture
def run_cli(capsys):
    """Run ``systolic ARGV...`` in-process; return ``(status, stdout, stderr)``.

    argparse's own errors (unknown choice, bad type) exit through ``SystemExit``; their status
    is returned like any other.
    """
    def run(*argv):
        try:
            status = cli.main([str(arg) for arg in argv])
        except SystemExit as exc:
            status = exc.code
        out, err = capsys.readouterr()
        return status, out, err
    return run


def saturation_case():
    """Operands that tell saturation semantics apart (the reproduction of issue 15): a 16-bit
    saturating int8 design, A 5 x 100, B 100 x 7, where column 3 first falls far below the
    range and then climbs back. Returns ``(array, a, b)``."""
    import numpy as np
    from systolic.rtl.config import ArrayConfig
    array = ArrayConfig(rows=2, cols=3, acc_width=16, overflow="saturate")
    a = np.full((5, 100), 127)
    a[2] = -128
    b = np.full((100, 7), 127)
    b[:50, 3] = -128
    return array, a, b


def clamped(value, lo, hi):
    return max(lo, min(hi, value))


def saturate_every_step(a, b, lo, hi):
    """The documented semantics, computed independently: each element's dot product clamped
    after every product, in order k = 0, 1, ..."""
    result = []
    for row in a.tolist():
        out = []
        for column in zip(*b.tolist()):
            acc = 0
            for x, y in zip(row, column):
                acc = clamped(acc + x * y, lo, hi)
            out.append(acc)
        result.append(out)
    return result


def saturate_each_chunk(a, b, lo, hi, depth):
    """What the engine once did: K split into the fewest chunks of at most ``depth`` steps, as
    equal as possible, each saturated from zero, the chunks' sums clamped once each (another
    semantics, which the tests tell apart)."""
    k = a.shape[1]
    count = -(-k // depth)
    sizes = [k // count + (1 if c < k % count else 0) for c in range(count)]
    starts = [sum(sizes[:c]) for c in range(count)]
    result = []
    for row in a.tolist():
        out = []
        for column in zip(*b.tolist()):
            total = 0
            for start, size in zip(starts, sizes):
                part = 0
                for x, y in zip(row[start:start + size], column[start:start + size]):
                    part = clamped(part + x * y, lo, hi)
                total = clamped(total + part, lo, hi)
            out.append(total)
        result.append(out)
    return result
