"""The loop's pause: while it is on, the drift check measures and records every decision but submits no run.

A file beside the monitor's state, not a setting: an operator turns it on and off while the platform runs, and
each check reads it afresh (the local scheduler, and in the cluster the drift CronJob, whose pod mounts the same
state volume). Every pause and resume is appended to a history with who, why and when, so a window held by the
pause in the decisions log leads to a person and a reason.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.data.json_lines import append_line, parse_lines

logger = logging.getLogger(__name__)

PAUSED, RESUMED = "paused", "resumed"


@dataclass(frozen=True)
class LoopPause:
    """A pause in force.

    Attributes:
        paused_at: when it began, UTC, taken by the process that wrote it (never given by the caller's flags).
        by: who paused (`driftloop.operator_identity`: the OS user at the host, and a person's MLflow login).
        reason: why, as the operator said it ("" when not said).
    """

    paused_at: str
    by: str
    reason: str

    def describe(self) -> str:
        """One phrase for a decision's reason: `paused by alice@laptop at 2026-12-04T10:00:00Z: label outage`."""
        return f"paused by {self.by} at {self.paused_at[:19]}Z" + (f": {self.reason}" if self.reason else "")

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


class PauseSwitch:
    """The pause file (present while paused) and the history of every pause and resume, in the monitor's folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "pause.json"
        self.history_path = folder / "pause_history.jsonl"

    def current(self) -> LoopPause | None:
        """The pause in force, or None while the loop runs."""
        if not self.path.exists():
            return None
        return LoopPause(**json.loads(self.path.read_text()))

    def pause(self, by: str, reason: str, now: datetime | None = None) -> tuple[LoopPause, bool]:
        """Pause the loop; returns the pause in force and whether this call began it. Pausing a paused loop keeps
        the first pause (its who and when are what the held decisions name) and records nothing."""
        existing = self.current()
        if existing is not None:
            return existing, False
        pause = LoopPause(paused_at=_utc(now), by=by, reason=reason)
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(pause.as_dict(), indent=2))
        os.replace(temporary, self.path)  # a check reads the old file or the new one, never half of one
        append_line(self.history_path, {"event": PAUSED, **pause.as_dict()})
        logger.info("loop %s", pause.describe())
        return pause, True

    def resume(self, by: str, reason: str, now: datetime | None = None) -> LoopPause | None:
        """Resume the loop; returns the pause it ended, or None when the loop was not paused (nothing recorded)."""
        ended = self.current()
        if ended is None:
            return None
        at = _utc(now)
        record = {"event": RESUMED, "resumed_at": at, "by": by, "reason": reason, "paused_at": ended.paused_at}
        append_line(self.history_path, record)  # first: a resume killed half-way leaves the loop paused, not unsaid
        self.path.unlink(missing_ok=True)
        logger.info("loop resumed by %s at %s (%s)", by, at, ended.describe())
        return ended

    def history(self, last: int | None = None) -> list[dict[str, Any]]:
        """Every pause and resume, oldest first (a line torn by a kill is skipped)."""
        if not self.history_path.exists():
            return []
        records, torn = parse_lines(self.history_path.read_text())
        for line in torn:
            logger.warning("skipping torn line %d of %s: %s", line.line, self.history_path, line.reason)
        return records[-last:] if last else records


def _utc(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat()
