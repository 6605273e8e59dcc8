"""The monitor's memory between runs: last trigger, the run in flight, decided windows, every decision
(the drift checks' and the canary's).

Kept as files in the state folder (a volume in the cluster), written atomically, so a CronJob pod that
dies mid-run leaves either the old state or the new one. The decisions are a JSON-lines log
(`pipelines.data.json_lines`): a line torn by a kill is skipped with its reason, and the next decision starts a line
of its own.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.data.json_lines import append_line, parse_lines

logger = logging.getLogger(__name__)

MAX_REMEMBERED_WINDOWS = 500


@dataclass
class MonitorState:
    """What the monitor remembers between checks, so a window is acted on once and runs do not overlap."""

    last_trigger_at: str | None = None
    run_in_flight: str | None = None
    handled_windows: list[str] = field(default_factory=list)
    # The last drift report's figures, snapshot and answers (`monitoring.drift.served_rows_fingerprint`): a check
    # over the same answers reuses them instead of computing and saving the same report again.
    last_drift: dict[str, Any] | None = None

    @property
    def last_trigger_time(self) -> datetime | None:
        return datetime.fromisoformat(self.last_trigger_at) if self.last_trigger_at else None


class MonitorStore:
    """The monitor's state file and decisions log, in its own folder of the state directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.state_path = folder / "state.json"
        self.decisions_path = folder / "decisions.jsonl"
        self.canary_path = folder / "canary.jsonl"  # the canary's decisions (monitoring/canary_check.py)

    def load(self) -> MonitorState:
        if not self.state_path.exists():
            return MonitorState()
        return MonitorState(**json.loads(self.state_path.read_text()))

    def save(self, state: MonitorState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        state.handled_windows = state.handled_windows[-MAX_REMEMBERED_WINDOWS:]
        temporary = self.state_path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(asdict(state), indent=2))
        os.replace(temporary, self.state_path)

    def record(self, decision: dict[str, Any]) -> None:
        append_line(self.decisions_path, decision)

    def decisions(self, last: int | None = None) -> list[dict[str, Any]]:
        return _read(self.decisions_path, last)

    def record_canary(self, decision: dict[str, Any]) -> None:
        append_line(self.canary_path, decision)

    def canary_decisions(self, last: int | None = None) -> list[dict[str, Any]]:
        return _read(self.canary_path, last)


def _read(path: Path, last: int | None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    records, torn = parse_lines(path.read_text())
    for line in torn:
        logger.warning("skipping torn line %d of %s: %s", line.line, path, line.reason)
    return records[-last:] if last else records
