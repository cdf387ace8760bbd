"""Is a process still there, and is it still the same process? Used to tell a live lock (a run in
progress) from one a killed process left, including one whose pid the system has since given to
another program."""

from __future__ import annotations

import os
from pathlib import Path


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def process_start_ticks(pid: int) -> int | None:
    """When `pid` started, in clock ticks since boot (/proc/<pid>/stat field 22); None where unknown.

    Together with the pid this names one process: a pid handed to a new program gets a new start time."""
    try:
        raw = Path(f"/proc/{int(pid)}/stat").read_bytes()
    except (OSError, ValueError):
        return None
    # "pid (comm) state ppid ..." - comm may hold spaces and parentheses, so split after the last ")"
    fields = raw[raw.rfind(b")") + 2:].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def _boot_time() -> float | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def process_start_time(pid: int) -> float | None:
    """When `pid` started, as a Unix time (seconds, to about a clock tick); None where unknown."""
    ticks = process_start_ticks(pid)
    boot = _boot_time()
    if ticks is None or boot is None:
        try:  # no /proc (macOS, BSD): psutil knows the platform's own way
            import psutil

            return float(psutil.Process(pid).create_time())
        except Exception:
            return None
    try:
        hertz = os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        hertz = 100
    return boot + ticks / hertz


def same_process(pid: int, start_ticks: int | None) -> bool | None:
    """Is `pid` still the process that had start time `start_ticks` (from process_start_ticks)?

    False when it is gone or the pid now belongs to a later process; None when it is alive but the
    start time cannot be compared (not recorded, or no /proc on this system)."""
    if not pid_alive(pid):
        return False
    now = process_start_ticks(pid)
    if start_ticks is None or now is None:
        return None
    return now == start_ticks
