"""The record of one pipeline run, one JSON file per run, the same for kfp.local runs and KFP API runs.

`pipeline runs` and `pipeline get` read only these files, so both modes answer in one format; this module owns
it (fields, statuses, file names), and a record is replaced atomically so a reader never sees half of one.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pipelines.core.errors import DriftloopError

FORMAT_VERSION = 1
Mode = Literal["local", "kfp"]
# Statuses of a run and of a step; the first three are not final.
ACTIVE_STATUSES = ("pending", "running", "submitted")
FINAL_STATUSES = ("succeeded", "failed", "skipped", "canceled", "lost")


def utc_now() -> str:
    """Our clock, UTC, to the millisecond (a lightweight step takes well under a second): every time a record
    holds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def new_run_id(moment: datetime | None = None) -> str:
    """Sortable by submission time, unique without a lock: `20261205T101112-3f9a1c`."""
    return f"{(moment or datetime.now(UTC)):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass
class StepRecord:
    """One step (task) of a run.

    Attributes:
        name: the task's name (kfp.local names a task after its component: `train-model`).
        status: pending | running | succeeded | failed | skipped | canceled.
        started_at, finished_at: UTC ISO times, when known.
    """

    name: str
    status: str = "pending"
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)


@dataclass
class RunRecord:
    """One submitted pipeline run, as `pipeline runs` and `pipeline get` show it.

    Attributes:
        id: ours, sortable by submission time; the key of the record's file.
        pipeline: the pipeline's name (its IR `pipelineInfo.name`).
        source: the file it was submitted from (a Python file or compiled IR), absolute.
        function: the pipeline function's name in a Python source, else None.
        parameters: the arguments it ran with, typed.
        mode: `local` (kfp.local, on this machine) or `kfp` (the KFP API).
        submitted_at: UTC, our clock. submitted_by: the OS user at the host.
        status: pending | running | submitted | succeeded | failed | skipped | canceled | lost (a local run
            whose process ended without finishing its record).
        finished_at: when the run ended, when known. error: why it failed, one line.
        steps: per step status and times.
        mlflow_run_id, mlflow_run_url, model_version: what the steps reported (the training pipeline's MLflow
            run and the version it registered), when they reported them.
        kfp_run_id, kfp_host: a cluster run's KFP id and the API that has it (`get` refreshes from there).
        pid, process_marker: a local run's process, so a run whose process died is not shown running forever.
        log: where the run's executor output went, when it went to a file.
    """

    id: str
    pipeline: str
    source: str
    mode: Mode
    submitted_at: str
    submitted_by: str
    function: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    finished_at: str | None = None
    error: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    mlflow_run_id: str | None = None
    mlflow_run_url: str | None = None
    model_version: str | None = None
    kfp_run_id: str | None = None
    kfp_host: str | None = None
    pid: int | None = None
    process_marker: str | None = None
    log: str | None = None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def duration_s(self) -> float | None:
        return seconds_between(self.submitted_at, self.finished_at)

    def step(self, name: str) -> StepRecord:
        """The step called `name`, added (pending) when the plan did not list it."""
        for known in self.steps:
            if known.name == name:
                return known
        added = StepRecord(name)
        self.steps.append(added)
        return added

    def finish(self, status: str, error: str | None = None) -> None:
        """End the run; steps that never started are `skipped`, and one left running takes the run's status."""
        self.status = status
        self.error = error
        self.finished_at = utc_now()
        for step in self.steps:
            if step.status == "pending":
                step.status = "skipped"
            elif step.status == "running":
                step.status = "failed" if status == "failed" else status
                step.finished_at = self.finished_at

    def to_json(self) -> dict[str, Any]:
        shown = asdict(self)
        shown["format"] = FORMAT_VERSION
        shown["duration_s"] = self.duration_s
        for step, raw in zip(self.steps, shown["steps"], strict=True):
            raw["duration_s"] = step.duration_s
        return shown

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunRecord:
        if raw.get("format") != FORMAT_VERSION:
            raise DriftloopError(f"run record {raw.get('id')!r} has format {raw.get('format')!r}, not {FORMAT_VERSION}")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        step_fields = {f.name for f in fields(StepRecord)}
        values["steps"] = [StepRecord(**{k: v for k, v in s.items() if k in step_fields}) for s in raw["steps"]]
        return cls(**values)

    def copy(self) -> RunRecord:
        return replace(self, steps=[replace(step) for step in self.steps], parameters=dict(self.parameters))


class RunRecordStore:
    """The folder of run records (`Layout.pipeline_runs`): one `<id>.json` per run."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def save(self, record: RunRecord) -> None:
        """Write the record whole, atomically (a temporary file in the same folder, then a rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{record.id}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as out:
                json.dump(record.to_json(), out, indent=2)
                out.write("\n")
            os.replace(temporary, self.path(record.id))
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, run_id: str) -> RunRecord:
        return RunRecord.from_json(json.loads(self.path(run_id).read_text()))

    def all(self) -> list[RunRecord]:
        """Every readable record, newest first."""
        if not self.folder.exists():
            return []
        records = [RunRecord.from_json(json.loads(path.read_text())) for path in self.folder.glob("*.json")]
        return sorted(records, key=lambda record: (record.submitted_at, record.id), reverse=True)

    def find(self, wanted: str) -> RunRecord:
        """The run named by our id, a unique prefix of it, or its KFP run id."""
        if self.path(wanted).exists():
            return self.load(wanted)
        matches = [r for r in self.all() if r.id.startswith(wanted) or r.kfp_run_id == wanted]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise DriftloopError(f"no pipeline run {wanted!r} in {self.folder} (`driftloop pipeline runs` lists them)")
        raise DriftloopError(f"{wanted!r} names {len(matches)} runs ({', '.join(r.id for r in matches)}); give more")
