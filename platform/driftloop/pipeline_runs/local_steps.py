"""A kfp.local run's steps, written into its run record as they start and end.

kfp.local reports a task's start, end and outputs only as log records on the root logger, and swaps the root's
handlers for its own while it does; a filter on the root logger stays in place and sees each record, so the
record follows the run without parsing the console output or touching kfp's internals.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from types import TracebackType

from driftloop.pipeline_runs.run_record import RunRecord, utc_now
from driftloop.pipeline_runs.step_progress import ANSI, step_event

OUTPUTS = re.compile(r"Task '([\w-]+)' outputs:")
OUTPUT_LINE = re.compile(r"^ {4}(\w+): (.*)$")
KFP_STATUS = {"SUCCESS": "succeeded", "FAILURE": "failed"}
# Step outputs a pipeline reports its MLflow run and registered model version by, and the record's fields.
REPORTED_OUTPUTS = {"mlflow_run_id": "mlflow_run_id", "model_version": "model_version"}


class StepRecorder(logging.Filter):
    """While entered, updates `record`'s steps from kfp.local's log records and calls `changed(record)` after
    each update (the caller saves it). A step output named `mlflow_run_id` or `model_version` fills the field."""

    def __init__(self, record: RunRecord, changed: Callable[[RunRecord], None]) -> None:
        super().__init__()
        self.record = record
        self.changed = changed

    def __enter__(self) -> StepRecorder:
        logging.getLogger().addFilter(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        logging.getLogger().removeFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = ANSI.sub("", record.getMessage())
        except (TypeError, ValueError):  # a record whose arguments do not format is not kfp's
            return True
        if self._observe(message):
            self.changed(self.record)
        return True  # observe only: every record goes on to kfp's handler

    def _observe(self, message: str) -> bool:
        if outputs := OUTPUTS.search(message):
            return self._outputs(message[outputs.end() :])
        event = step_event(message)
        if event is None:
            return False
        step = self.record.step(event.step)
        if event.status is None:
            step.status, step.started_at = "running", utc_now()
        else:
            step.status, step.finished_at = KFP_STATUS.get(event.status, event.status.lower()), utc_now()
        return True

    def _outputs(self, text: str) -> bool:
        found = False
        for line in text.splitlines():
            if (output := OUTPUT_LINE.match(line)) and output.group(1) in REPORTED_OUTPUTS:
                setattr(self.record, REPORTED_OUTPUTS[output.group(1)], output.group(2).strip("'") or None)
                found = True
        return found
