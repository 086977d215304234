"""A simulated board behind a pseudo-terminal: the board core's Verilog on Verilator.

:class:`VirtualBoard` compiles (once, cached by a hash of the Verilog) the Verilog of
:class:`~systolic.rtl.board_core.BoardCore` with ``sim/backends/harness/board_harness.cpp``, opens a
pseudo-terminal and runs the harness on its master side. The slave side
(:attr:`VirtualBoard.port`, e.g. ``/dev/pts/3``) then behaves like the USB-serial port of a real
board: the driver opens it with pyserial as it would ``/dev/ttyUSB1``, and every byte it sends
goes through the real bridge and engine gateware.

The harness clocks the core while bytes are pending or the core is busy and sleeps when both
are idle (see the harness source), so a virtual board waiting for its host costs no CPU.
"""

import contextlib
import functools
import os
import re
import subprocess
import tempfile
import time
import tty
from pathlib import Path

from ..rtl.config import ArrayConfig
from ..rtl.engine.config import EngineConfig
from ..rtl.protocol import MIN_MAX_PAYLOAD
from .channel import AcceleratorError

__all__ = [
    "VirtualBoard", "VirtualBoardError", "build_virtual_board", "board_verilog",
    "default_board_root", "VIRTUAL_CLOCK_HZ", "VIRTUAL_TIMEOUT_CYCLES", "TOPLEVEL",
]

#: Clock the virtual board reports in INFO (an iCEBreaker's 12 MHz).
VIRTUAL_CLOCK_HZ = 12_000_000
#: The core's frame and READ timeout, in cycles. Far below a real board's 1024 byte times
#: (122,880 cycles at 12 MHz and 1 Mbaud) because the simulation runs well below that clock
#: (BENCHMARKS.md, "Simulation speed"), and a READ that finds nothing lasts one timeout; still
#: hundreds of times longer than any gap inside a frame or between two result words.
VIRTUAL_TIMEOUT_CYCLES = 16_384
#: Silence a host waits for before repeating a message: several frame timeouts at the
#: simulation's speed (BENCHMARKS.md, "Simulation speed" and "Host driver").
QUIET_S = 0.1
#: Module name of the core in the generated Verilog.
TOPLEVEL = "board_core"

#: The compiled harness behind the pseudo-terminal (:data:`~systolic.sim.backends.verilog_build.HARNESS_DIR`).
_HARNESS = "board_harness.cpp"
_STOP_S = 5.0


class VirtualBoardError(AcceleratorError):
    """The virtual board could not be built or started, or its simulation process died."""


def default_board_root():
    """Cache directory of virtual-board builds: ``virtual-board`` beside the cocotb builds.

    ``$SYSTOLIC_BUILD_DIR/virtual-board`` if that variable is set, else ``build/virtual-board``
    of the source checkout, else ``~/.cache/systolic/virtual-board``.
    """
    from ..sim.backends.verilog_build import BUILD_ROOT_ENV, default_build_root
    if os.environ.get(BUILD_ROOT_ENV):
        return Path(os.environ[BUILD_ROOT_ENV]) / "virtual-board"
    return default_build_root().parent / "virtual-board"


def _core(config, clock_hz, max_payload, timeout_cycles):
    from ..rtl.board_core import BoardCore
    return BoardCore(config, clock_hz=clock_hz, max_payload=max_payload,
                     timeout_cycles=timeout_cycles)


def board_verilog(config, clock_hz=VIRTUAL_CLOCK_HZ, max_payload=MIN_MAX_PAYLOAD,
                  timeout_cycles=VIRTUAL_TIMEOUT_CYCLES):
    """Return ``(verilog, active_mask)`` of a byte-stream ``BoardCore`` for ``config``.

    ``active_mask`` has the bits of the core's ``status`` port that say it is busy (the
    engine's ``busy`` and the bridge's ``link``). Cached per process: elaborating the core
    takes seconds.
    """
    return _board_verilog(config, clock_hz, max_payload, timeout_cycles)


@functools.lru_cache(maxsize=8)
def _board_verilog(config, clock_hz, max_payload, timeout_cycles):
    from ..rtl.board_core import board_status_layout
    from ..rtl.verilog import to_verilog
    verilog = to_verilog(_core(config, clock_hz, max_payload, timeout_cycles), TOPLEVEL)
    layout = board_status_layout()
    mask = 0
    for name in ("busy", "link"):
        field = layout[name]
        mask |= ((1 << field.width) - 1) << field.offset
    return verilog, mask


def build_virtual_board(config, *, clock_hz=VIRTUAL_CLOCK_HZ, max_payload=MIN_MAX_PAYLOAD,
                        timeout_cycles=VIRTUAL_TIMEOUT_CYCLES, build_root=None):
    """Compile (or find compiled) the virtual board of ``config``.

    Returns
    -------
    build : Build
        From :func:`systolic.sim.backends.verilog_build.cached_build`; the executable is
        ``build.directory / "board_harness"``.
    active_mask : int

    Raises
    ------
    BackendUnavailable
        Verilator or a C++ tool chain is missing (the message says what to install).
    """
    from ..sim.backends import verilog_build as vb
    from ..sim.backends.verilator_tools import make_overrides
    verilog, mask = board_verilog(config, clock_hz, max_payload, timeout_cycles)
    harness = vb.harness_source(_HARNESS)
    tool = vb.require_verilator()
    key = {"simulator": "verilator", "driver": "board", "trace": None,
           "verilog_sha256": vb.digest(verilog), "harness_sha256": vb.harness_digest(harness),
           "tool": tool.version, "lint": vb.VERILATOR_LINT, "make": make_overrides(tool)}
    make = functools.partial(vb.make_verilator_exe, tool=tool, trace=None, toplevel=TOPLEVEL,
                             harness=harness, output="board_harness")
    root = default_board_root() if build_root is None else build_root
    return vb.cached_build(root, key, config, verilog, TOPLEVEL, make), mask


class VirtualBoard:
    """A board core simulated on Verilator, reachable at the pseudo-terminal :attr:`port`.

    Starts at construction; :meth:`close` (or leaving a ``with`` block) stops the simulation.

    Parameters
    ----------
    config : EngineConfig or ArrayConfig, optional
        The design (default ``EngineConfig()``: a 4x4 int8 array, jobs up to 128x128x128); an
        ``ArrayConfig`` gets the default buffers.
    clock_hz : int
        Clock the board reports in INFO.
    max_payload : int
        The bridge's buffer size (the longest frame payload).
    timeout_cycles : int
        The bridge's frame and READ timeout.
    build_root : path-like, optional
        Build cache directory (default :func:`default_board_root`).

    Attributes
    ----------
    port : str
        Path of the pseudo-terminal's slave side, to open like a serial port.
    config : EngineConfig
    build_s : float
        Seconds spent getting the simulator ready (Verilog, and compiling unless cached).
    reused : bool
        Whether the build came from the cache.
    quiet_s : float
        Seconds of silence a host should wait for before repeating a message: several times
        the core's timeout at the simulation's speed, so that a half-received frame is gone.
    stats : dict or None
        After :meth:`close`: the harness's counters (``cycles``, ``bytes_in``, ``bytes_out``).
    """

    def __init__(self, config=None, *, clock_hz=VIRTUAL_CLOCK_HZ, max_payload=MIN_MAX_PAYLOAD,
                 timeout_cycles=VIRTUAL_TIMEOUT_CYCLES, build_root=None):
        if config is None or isinstance(config, ArrayConfig):
            config = EngineConfig() if config is None else EngineConfig(array=config)
        if not isinstance(config, EngineConfig):
            raise TypeError(f"VirtualBoard needs an EngineConfig or an ArrayConfig, got "
                            f"{type(config).__name__}")
        self.config = config
        started = time.perf_counter()
        build, mask = build_virtual_board(self.config, clock_hz=clock_hz, max_payload=max_payload,
                                          timeout_cycles=timeout_cycles, build_root=build_root)
        self.build_s = time.perf_counter() - started
        self.reused = build.reused
        self.quiet_s = QUIET_S
        self.stats = None
        self._process = None
        self._slave = None
        master, slave = os.openpty()
        try:
            # Raw before anything runs: no echo, no line editing, no CR/LF translation.
            tty.setraw(slave)
            self.port = os.ttyname(slave)
            fd, self._log_path = tempfile.mkstemp(prefix="systolic-board-", suffix=".log")
            with os.fdopen(fd, "w") as log:
                # Its own session: Ctrl-C in a terminal reaches only us, and we stop it in order.
                self._process = subprocess.Popen(
                    [str(build.directory / "board_harness"), str(mask)], stdin=master,
                    stdout=master, stderr=log, close_fds=True, start_new_session=True)
        except BaseException:
            os.close(slave)
            raise
        finally:
            os.close(master)
        # Holding a slave descriptor keeps the pty up between clients; the harness sees the
        # pty hang up (and exits) only once this process is gone too.
        self._slave = slave

    # Life cycle --------------------------------------------------------------------------------

    @property
    def pid(self):
        """Process id of the simulation (None once closed)."""
        return None if self._process is None else self._process.pid

    @property
    def running(self):
        """Whether the simulation process is alive."""
        return self._process is not None and self._process.poll() is None

    def check(self):
        """Raise :class:`VirtualBoardError` if the simulation process has exited."""
        if self._process is not None and self._process.poll() is not None:
            raise VirtualBoardError(f"the virtual board's simulation exited with status "
                                    f"{self._process.returncode}: {self._log_tail()}")

    def wait(self, timeout=None):
        """Block until the simulation exits (or ``timeout`` seconds); return its status or None."""
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self):
        """Stop the simulation and release the pseudo-terminal (idempotent).

        Afterwards :attr:`stats` holds the harness's counters (``cycles``, ``bytes_in``,
        ``bytes_out``) when it reported them.
        """
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(_STOP_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(_STOP_S)
            self.stats = self._read_stats()
            with contextlib.suppress(OSError):
                os.unlink(self._log_path)
        slave, self._slave = self._slave, None
        if slave is not None:
            os.close(slave)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        # A board dropped without close() must not leave a simulation running.
        with contextlib.suppress(Exception):
            self.close()

    # The harness's log ------------------------------------------------------------------------

    def _log_tail(self, lines=5):
        # One line, for an exception message.
        with contextlib.suppress(OSError):
            text = Path(self._log_path).read_text(errors="replace").strip()
            return " | ".join(text.splitlines()[-lines:]) or "(empty log)"
        return "(no log)"

    def _read_stats(self):
        with contextlib.suppress(OSError):
            found = re.findall(r"(\w+)=(\d+)", Path(self._log_path).read_text(errors="replace"))
            if found:
                return {name: int(value) for name, value in found}
        return None
