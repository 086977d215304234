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
