"""The line every benchmark prints about the machine it ran on."""

import datetime
import os
import platform
from pathlib import Path

__all__ = ["describe"]


def describe():
    """Return today's date, the core count, the CPU model, Python and the OS, on one line."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{datetime.date.today().isoformat()}, {os.cpu_count()} cores (os.cpu_count), {cpu}, "
            f"Python {platform.python_version()}, {platform.system()} {platform.release()}")
