"""Who evaluates a sweep's points: local worker processes, or a Dask cluster.

Both take ``tasks``, a list of ``(point, settings)`` for :func:`~.sweep_point.evaluate`, and
call ``on_record(record)`` in the calling process as each point finishes, in the order they
finish; the caller stores the record there and then, so nothing finished is lost when the
sweep stops early.

- :func:`run_local`: one worker process a point, at most ``jobs`` at once. A process of its
  own per point means a worker that dies (killed, out of memory) takes only its own point
  with it, which is recorded as failed; its tools are in the process too and are stopped
  with it on Ctrl-C.
- :func:`run_dask`: ``dask.distributed`` on a scheduler at ``tcp://HOST:PORT`` (README,
  "Sweeps"): the points are Dask tasks; each worker builds in its own directory and sends
  the record back. A task Dask gives up on (its workers kept dying) is recorded as failed.
"""

import multiprocessing
import signal
import threading
from contextlib import contextmanager
from multiprocessing import forkserver
from multiprocessing.connection import wait

from ..errors import UsageError
from .point import build_dir_of, evaluate, failed_record

__all__ = ["run_local", "run_dask", "DASK_HINT"]

DASK_HINT = "install the sweep extra: pip install 'systolic[sweep]' (dask[distributed], rich)"
# Imported once by the fork server, so each worker process starts with them loaded.
_PRELOAD = ["systolic.host.sweep_point", "systolic.boards.top", "systolic.sim.engine_perf"]


# Exit status of a worker stopped by Ctrl-C or by the parent: its point is not finished.
_INTERRUPTED = 130
# The signals that stop a sweep.
_STOPS = {signal.SIGINT, signal.SIGTERM}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _child(point, settings, conn):
    # Terminated by the parent (on its Ctrl-C): unwind as on Ctrl-C, so that the build stops
    # the tool it is running rather than leaving it behind.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # A fork server started while the parent held its stops back would pass the mask on.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
        record = evaluate(point, settings)
    except KeyboardInterrupt:
        raise SystemExit(_INTERRUPTED) from None      # not finished: no record
    try:
        conn.send(record)
    except BrokenPipeError:
        # The parent stopped (Ctrl-C) after this point finished: nobody to take the record.
        raise SystemExit(_INTERRUPTED) from None
    conn.close()


@contextmanager
def _stops_held():
    """Hold Ctrl-C and SIGTERM back while a worker is started and recorded as running: a stop
    that lands between the two would leave a worker that no one terminates.

    The signals are blocked in this thread, so that the fork server's new process does not
    take one in before it has set its own handlers, and their Python handlers are replaced by
    one that only notes them: a process-directed signal can still arrive through another
    thread of this process (one a library started), and Python runs its handler here, in the
    main thread, at once. A stop noted is raised again once the worker is recorded.
    """
    noted = []
    # Python sets handlers only from the main thread (and runs them only there). A handler set
    # outside Python (getsignal gives None) could not be put back: left alone.
    on_main = threading.current_thread() is threading.main_thread()
    handlers = {stop: signal.signal(stop, lambda signum, frame: noted.append(signum))
                for stop in _STOPS if on_main and signal.getsignal(stop) is not None}
    previous_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous_mask)
        for stop, handler in handlers.items():
            signal.signal(stop, handler)
        for signum in dict.fromkeys(noted):
            signal.raise_signal(signum)


def _died(point, settings, exitcode):
    build_log = build_dir_of(point, settings) / "top.build.log"
    how = f"signal {-exitcode}" if exitcode and exitcode < 0 else f"exit status {exitcode}"
    return failed_record(point, settings, f"the worker process died ({how}) while evaluating it",
                         log=build_log if build_log.is_file() else None)


def run_local(tasks, jobs, on_record):
    """Evaluate ``tasks`` in worker processes, ``jobs`` at a time (see the module docstring)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    forkserver.ensure_running()        # now, not inside _stops_held (its mask would be inherited)
    pending = list(reversed(tasks))
    running = {}                    # reading end of the pipe -> (process, task)
    try:
        while pending or running:
            while pending and len(running) < jobs:
                point, settings = task = pending.pop()
                with _stops_held():
                    reader, writer = context.Pipe(duplex=False)
                    process = context.Process(target=_child, args=(point, settings, writer),
                                              daemon=True)
                    process.start()
                    writer.close()
                    running[reader] = (process, task)
            # A pipe is ready when its record arrives or when its process has gone (EOF).
            for reader in wait(list(running)):
                process, (point, settings) = running.pop(reader)
                try:
                    record = reader.recv()
                except EOFError:
                    record = None
                reader.close()
                process.join()
                if record is None and process.exitcode == _INTERRUPTED:
                    continue                # stopped, not failed: --resume runs it again
                on_record(record if record is not None else _died(point, settings,
                                                                  process.exitcode))
    finally:
        for process, _ in running.values():
            process.terminate()
        for process, _ in running.values():
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()


def run_dask(tasks, address, on_record):
    """Evaluate ``tasks`` on the Dask scheduler at ``address`` (see the module docstring).

    The connection gives up after Dask's ``distributed.comm.timeouts.connect`` (30 s unless
    configured otherwise)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UsageError(f"--scheduler needs dask.distributed; {DASK_HINT}") from None
    try:
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--scheduler {address}: cannot connect: {exc}") from None
    with client:
        futures = {}
        for point, settings in tasks:
            future = client.submit(evaluate, point, settings, pure=False)
            futures[future] = (point, settings)
        try:
            for future in as_completed(futures, loop=client.loop):
                point, settings = futures.pop(future)
                if future.status == "finished":
                    record = future.result()
                elif future.status == "error":
                    exc = future.exception()
                    record = failed_record(point, settings, f"the Dask task failed on the "
                                           f"cluster: {type(exc).__name__}: {exc}")
                else:
                    record = failed_record(point, settings,
                                           f"the Dask task ended {future.status} on the cluster")
                on_record(record)
        finally:
            if futures:
                # Dask cannot stop a task a worker has started: that build runs to its end.
                client.cancel(list(futures))
