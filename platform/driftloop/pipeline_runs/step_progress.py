"""One line per pipeline step as it finishes, instead of kfp.local's executor output.

kfp.local streams every task's executor input, output and logs to the console (hundreds of lines per run).
`driftloop pipeline run training` sends all of it to a log file (`output_to`) and follows that file,
printing `  step  12.3 s  SUCCESS` when a step ends and a spinner naming the running step meanwhile. The same
follower relays those lines from the log of a drift-triggered run, so the demo shows its steps too.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pipelines.training.search import DONE_PREFIX, PROGRESS_PREFIX

ANSI = re.compile(r"\x1b\[[0-9;]*m")
STARTED = re.compile(r"Executing task '([\w-]+)'")
FINISHED = re.compile(r"Task '([\w-]+)' finished with status (\w+)")
REPORT = re.compile(r"^  [\w-]+ +(\d+\.\d s)? +\w+$")  # a line StepFollower reported (a quiet run's console)
# The train step's search (pipelines/training/search_tracking.py writes these): its progress after each trial, and
# its end, which becomes one reported line.
SEARCH_PROGRESS = re.compile(rf"{re.escape(PROGRESS_PREFIX)} (\d+/\d+ trials, .*)$")
SEARCH_REPORT = re.compile(r"^  search +\d+\.\d s  \d+/\d+ trials, best .*\(trial \d+\)$")  # its reported line
SEARCH_DONE = re.compile(rf"{re.escape(DONE_PREFIX)} (\d+/\d+ trials) in ([\d.]+) s, (best .*?) \(trial (\d+)\)")


@dataclass(frozen=True)
class StepEvent:
    """A pipeline step starting or ending, read from kfp.local's output for one progress line each."""

    step: str
    status: str | None  # None when the step starts


def step_event(line: str) -> StepEvent | None:
    """The step start or end a kfp.local log line reports, if any."""
    plain = ANSI.sub("", line)
    if finished := FINISHED.search(plain):
        return StepEvent(finished.group(1), finished.group(2))
    if started := STARTED.search(plain):
        return StepEvent(started.group(1), None)
    return None


class StepFollower:
    """Follows a kfp.local log from its current end: `report(line)` once per finished step, and `waiting(text)`
    every poll while a step runs (a spinner's text)."""

    def __init__(
        self, log_path: Path, report: Callable[[str], None], waiting: Callable[[str], None] | None = None,
        poll_s: float = 0.25,
    ) -> None:  # fmt: skip
        self.log_path = log_path
        self.report = report
        self.waiting = waiting
        self.poll_s = poll_s
        self.running: tuple[str, float] | None = None  # (step, started at)
        self.search: str = ""  # the running step's search progress, shown beside it while it runs
        self._offset = log_path.stat().st_size if log_path.exists() else 0
        self._partial = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="step-follower", daemon=True)

    def __enter__(self) -> StepFollower:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._read_new_lines()  # the last step's line may have landed after the last poll

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._read_new_lines()
            if self.waiting is not None and self.running is not None:
                step, started = self.running
                search = f", search {self.search}" if self.search else ""
                self.waiting(f"{step} ({time.monotonic() - started:.0f} s{search})")

    def _read_new_lines(self) -> None:
        if not self.log_path.exists():
            return
        with self.log_path.open("rb") as log:
            log.seek(self._offset)
            data = log.read()
        self._offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        for line in lines:
            self._handle(line.decode("utf-8", errors="replace"))

    def _handle(self, line: str) -> None:
        if REPORT.match(line) or SEARCH_REPORT.match(line):  # the log of a quiet run holds its reports: relay them
            self.report(line)
            return
        plain = ANSI.sub("", line)
        if done := SEARCH_DONE.search(plain):
            trials, seconds, best, number = done.groups()
            self.search = ""
            self.report(f"  {'search':<20} {float(seconds):6.1f} s  {trials}, {best} (trial {number})")
            return
        if progress := SEARCH_PROGRESS.search(plain):
            self.search = progress.group(1)
            return
        event = step_event(line)
        if event is None:
            return
        if event.status is None:
            self.running = (event.step, time.monotonic())
            return
        started = self.running[1] if self.running and self.running[0] == event.step else None
        took = f"{time.monotonic() - started:6.1f} s" if started is not None else "       "
        self.running = None
        self.report(f"  {event.step:<20} {took}  {event.status}")


@contextmanager
def output_to(log_path: Path) -> Iterator[TextIO]:
    """Send this process's stdout and stderr (file descriptors, so child processes too) to `log_path`; yields
    a stream on the original stderr for what the person at the console should still see."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(2), "w", buffering=1)
    with log_path.open("ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield console
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            console.close()
