"""SIGTERM handled as Ctrl-C, for commands that run tools of their own."""

import signal
import threading
from contextlib import contextmanager

__all__ = ["terminate_as_interrupt"]


def _stop(signum, frame):
    raise KeyboardInterrupt


@contextmanager
def terminate_as_interrupt():
    """While the block runs, SIGTERM (a ``kill``) raises ``KeyboardInterrupt`` as Ctrl-C does.

    Without it the interpreter dies at once and the tools it started (Yosys, nextpnr) run on,
    orphaned; with it the code that stops them on an interrupt runs. Outside the main thread,
    where no handler can be set, the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
