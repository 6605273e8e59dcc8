"""Which process a pid record means: a start marker that a reused pid cannot match and the wall clock cannot move.

Why not psutil's `create_time`: on Linux it is the process's start in clock ticks since boot plus the boot time,
and the kernel derives the boot time from the wall clock at each read. A wall-clock step (a laptop resumed from
suspend, an NTP correction) moves every process's `create_time` by the step, so a record made before it no longer
matched and `local status` reported running services as stopped. The ticks since boot (field 22 of
`/proc/<pid>/stat`) do not move, and with the boot id they name one process of one boot. Elsewhere (macOS) the
kernel keeps each process's start as the wall-clock time it began, which a later step leaves alone, so psutil's
`create_time` is the marker there.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

PROC = Path("/proc")
CREATE_TIME_TOLERANCE_S = 0.01  # a float written as text and read back
STAT_START_TICKS = 19  # field 22 of /proc/<pid>/stat, counted after the command name's closing parenthesis


def start_marker(pid: int, proc: Path = PROC) -> str:
    """`ticks:<boot id>:<start ticks>` where /proc has them, else `ctime:<create time>`; psutil.Error when the
    process does not exist."""
    ticks = _start_ticks(pid, proc)
    if ticks is not None:
        return f"ticks:{_boot_id(proc)}:{ticks}"
    return f"ctime:{psutil.Process(pid).create_time()!r}"


def is_same_process(pid: int, marker: str, proc: Path = PROC) -> bool:
    """Whether `pid` is still the process `marker` was taken from (False once it exited or the pid was reused)."""
    kind, _, value = marker.partition(":")
    try:
        if kind == "ticks":
            return start_marker(pid, proc) == marker
        if kind == "ctime":
            return abs(psutil.Process(pid).create_time() - float(value)) < CREATE_TIME_TOLERANCE_S
    except (psutil.Error, ValueError):
        return False
    logger.warning("unknown process start marker %r for pid %d", marker, pid)
    return False


def _start_ticks(pid: int, proc: Path) -> int | None:
    """The process's start in clock ticks since boot; None where /proc does not exist. psutil.NoSuchProcess where
    it does and the process does not."""
    if not (proc / "self" / "stat").exists():
        return None
    try:
        stat = (proc / str(pid) / "stat").read_text()
    except FileNotFoundError as error:
        raise psutil.NoSuchProcess(pid) from error
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[STAT_START_TICKS])  # the command name may hold ") "


def _boot_id(proc: Path) -> str:
    try:
        return (proc / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
    except OSError:
        return ""
