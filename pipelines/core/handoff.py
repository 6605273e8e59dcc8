"""Finding a helper process a parent started for its children: a `<pid>:<path>` value in a private variable.

The local runner starts helpers for a training run's steps (a host of warm processes, the run's Ray) and tells
the steps where each will publish itself: a path that appears once the helper is ready. A step waits for that
path while the helper starting it still lives, and gives up at once when the helper says it failed (a marker
beside the path) or is gone. A helper that crashed stays a zombie of the runner until the run ends, and a zombie
still answers a signal: its state is read too, or every step would wait out the whole timeout before going
without it. Standard library only: the task launcher imports this before every task.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

POLL_S = 0.05


def failed_marker(path: str) -> str:
    """The file a helper that could not start leaves beside the path it would have published."""
    return f"{path}.failed"


def process_gone(pid: int) -> bool:
    """Whether the process has ended: no such process, or a zombie (ended, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, someone else's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): the signal's answer is all there is
    state = stat.rpartition(")")[2].split()[:1]  # the name in parentheses may hold spaces
    return state in (["Z"], ["X"])


@dataclass(frozen=True)
class Handoff:
    """A helper's pid and the path it publishes once it is ready."""

    pid: int
    path: str

    @classmethod
    def parse(cls, value: str) -> Handoff | None:
        """The handoff a variable names, or None when it names none (unset, or not `<pid>:<path>`)."""
        pid, _, path = value.partition(":")
        return cls(int(pid), path) if pid.isdigit() and path else None

    @classmethod
    def living(cls, value: str) -> Handoff | None:
        """The handoff a variable names while its helper's process lives (None: it names none, or the helper is
        gone): what a process passes down to the runs it starts is only worth using while it is there."""
        handoff = cls.parse(value)
        return handoff if handoff is not None and not process_gone(handoff.pid) else None

    def __str__(self) -> str:
        return f"{self.pid}:{self.path}"

    @property
    def failed_marker(self) -> str:
        return failed_marker(self.path)

    def ready(self, timeout_s: float, give_up: Callable[[], bool] = lambda: False) -> bool:
        """Whether the helper's path is there, waiting while the helper lives, has not failed, time is left and
        the caller does not `give_up`."""
        deadline = time.monotonic() + timeout_s
        while not os.path.exists(self.path):
            if os.path.exists(self.failed_marker) or process_gone(self.pid) or time.monotonic() > deadline:
                return False
            if give_up():
                return False
            time.sleep(POLL_S)
        return True
