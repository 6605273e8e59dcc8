"""Submitting any KFP v2 pipeline and following its run: kfp.local on this machine, or the KFP API.

Both backends take a `PipelineSource` and its typed arguments, and both keep the run's `RunRecord` current, so
`pipeline runs` and `pipeline get` read one format whichever ran it. The backend is chosen once, from the
settings for a new run (`backend_for`) and from the record for a run already submitted (`backend_of`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import psutil

from driftloop.local.process_identity import is_same_process, start_marker
from driftloop.operator_identity import operator_identity
from driftloop.pipeline_runs.local_steps import StepRecorder
from driftloop.pipeline_runs.pipeline_parameters import effective_parameters
from driftloop.pipeline_runs.pipeline_source import PipelineSource, load_pipeline
from driftloop.pipeline_runs.run_record import Mode, RunRecord, RunRecordStore, StepRecord, new_run_id, utc_now
from pipelines.core.dependency_probes import check_kfp_api
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.kfp.compile import COMPILED_PIPELINE

logger = logging.getLogger(__name__)

# KFP's runtime states, as a record's statuses.
KFP_STATUS = {
    "RUNTIME_STATE_UNSPECIFIED": "pending",
    "PENDING": "pending",
    "RUNNING": "running",
    "PAUSED": "running",
    "CANCELING": "running",
    "SUCCEEDED": "succeeded",
    "SKIPPED": "skipped",
    "FAILED": "failed",
    "CANCELED": "canceled",
}


def builtin_training_source() -> PipelineSource:
    """The built-in training pipeline, as the committed IR: `pipeline submit`'s default FILE."""
    return load_pipeline(COMPILED_PIPELINE)


def is_builtin_training(source: PipelineSource) -> bool:
    """The training pipeline (from its IR or its Python): its runs need an MLflow run made first and a training
    request's parameters, so they go through the training runners."""
    from pipelines.kfp.training_pipeline import PIPELINE_NAME  # lazy: pulls kfp and pandas

    return source.name == PIPELINE_NAME


def new_record(source: PipelineSource, arguments: dict[str, Any], mode: Mode) -> RunRecord:
    """A run's record before it starts: its plan of steps pending, who and when."""
    return RunRecord(
        id=new_run_id(),
        pipeline=source.name,
        source=str(source.path),
        function=source.function,
        parameters=effective_parameters(source.parameters, arguments),
        mode=mode,
        submitted_at=utc_now(),
        submitted_by=operator_identity(),
        steps=[StepRecord(name) for name in source.step_names],
    )


def first_line(failure: BaseException) -> str:
    text = str(failure).strip()
    return text.splitlines()[0] if text else repr(failure)


class PipelineBackend(Protocol):
    """Where a pipeline runs: `submit` starts it (and for kfp.local runs it to the end), `refresh` brings a
    record up to date with what the runner knows now."""

    def submit(self, source: PipelineSource, arguments: dict[str, Any], record: RunRecord) -> RunRecord: ...

    def refresh(self, record: RunRecord) -> RunRecord: ...


class LocalPipelineBackend:
    """kfp.local's SubprocessRunner in this process: the run ends before `submit` returns, and the record follows
    each step as it starts and ends (a `pipeline runs` in another terminal sees it move)."""

    mode: Mode = "local"

    def __init__(self, settings: Settings, store: RunRecordStore) -> None:
        self.layout = Layout.from_settings(settings)
        self.store = store

    def submit(self, source: PipelineSource, arguments: dict[str, Any], record: RunRecord) -> RunRecord:
        from kfp import local  # lazy: pulls kfp

        self.layout.pipeline_root.mkdir(parents=True, exist_ok=True)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(self.layout.pipeline_root),
            raise_on_error=True,
        )
        with local_run(record, self.store):
            source.component(**arguments)
        return record

    def refresh(self, record: RunRecord) -> RunRecord:
        if record.active and record.pid is not None:
            alive = is_same_process(record.pid, record.process_marker or "")
            try:
                alive = alive and psutil.Process(record.pid).status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive:
                record.finish("lost", "the process running it ended before the run did")
                self.store.save(record)
        return record


@contextmanager
def local_run(record: RunRecord, store: RunRecordStore) -> Iterator[RunRecord]:
    """Around a kfp.local pipeline call: the record is `running` (with this process, so a crash shows as `lost`),
    follows the steps, and ends `succeeded`, or `failed` with the error's first line. A task's failure (kfp.local
    raises RuntimeError) ends in the record, not in the caller; anything else is recorded and raised."""
    record.status, record.pid = "running", os.getpid()
    record.process_marker = start_marker(record.pid)
    store.save(record)
    try:
        with StepRecorder(record, store.save):
            yield record
    except RuntimeError as failure:
        record.finish("failed", first_line(failure))
    except BaseException as failure:
        record.finish("failed", first_line(failure))
        store.save(record)
        raise
    else:
        record.finish("succeeded")
    store.save(record)


class KfpPipelineBackend:
    """The KFP v2beta1 API (`kfp.Client`): `submit` returns once KFP has the run; `refresh` reads the run's state
    and its tasks' states and times back."""

    mode: Mode = "kfp"

    def __init__(self, host: str, experiment: str, store: RunRecordStore) -> None:
        self.host = host
        self.experiment = experiment
        self.store = store

    def client(self) -> Any:
        """KFP's client, once its API answers (its own client raises a urllib3 traceback when it does not)."""
        check_kfp_api(self.host)
        import kfp  # lazy: pulls kfp

        return kfp.Client(host=self.host)

    def submit(self, source: PipelineSource, arguments: dict[str, Any], record: RunRecord) -> RunRecord:
        client = self.client()
        with tempfile.TemporaryDirectory(prefix="driftloop-pipeline-") as folder:
            run = client.create_run_from_pipeline_package(
                str(source.package(Path(folder))),
                arguments=arguments,
                run_name=f"{source.name} ({record.id})",
                experiment_name=self.experiment,
                enable_caching=False,
            )
        record.kfp_run_id, record.kfp_host, record.status = run.run_id, self.host, "submitted"
        self.store.save(record)
        logger.info("submitted %s as KFP run %s (record %s)", source.name, run.run_id, record.id)
        return record

    def wait(self, record: RunRecord, timeout_s: int = 3600) -> RunRecord:
        assert record.kfp_run_id
        self.client().wait_for_run_completion(record.kfp_run_id, timeout=timeout_s)
        return self.refresh(record)

    def refresh(self, record: RunRecord) -> RunRecord:
        assert record.kfp_run_id
        run = self.client().get_run(record.kfp_run_id)
        record.status = KFP_STATUS.get(str(run.state), str(run.state).lower())
        record.finished_at = None if record.active else (_stamp(run.finished_at) or record.finished_at)
        if run.error is not None and getattr(run.error, "message", None):
            record.error = str(run.error.message).splitlines()[0]
        details = run.run_details.task_details if run.run_details and run.run_details.task_details else []
        planned = {step.name for step in record.steps}
        for task in details:
            if task.display_name not in planned:  # KFP's own tasks: the root DAG, drivers, condition branches
                continue
            step = record.step(task.display_name)
            step.status = KFP_STATUS.get(str(task.state), str(task.state).lower())
            step.started_at = _stamp(task.start_time) or _stamp(task.create_time)
            step.finished_at = _stamp(task.end_time)
        if not record.active:
            for step in record.steps:
                if step.status == "pending":
                    step.status = "skipped"
        self.store.save(record)
        return record


def _stamp(moment: datetime | None) -> str | None:
    """KFP's time as a record's; KFP sends the epoch for a time it does not have."""
    if moment is None or moment.year < 2000:
        return None
    return moment.isoformat(timespec="milliseconds")


def backend_for(settings: Settings, store: RunRecordStore) -> LocalPipelineBackend | KfpPipelineBackend:
    """A new run's backend: the KFP API when the settings name one (DRIFTLOOP_KFP_HOST or --kfp-host), else
    kfp.local here."""
    if settings.kfp_host:
        return KfpPipelineBackend(settings.kfp_host, settings.mlflow_experiment, store)
    return LocalPipelineBackend(settings, store)


def backend_of(record: RunRecord, settings: Settings, store: RunRecordStore) -> PipelineBackend:
    """The backend that has a submitted run (a cluster run's record names its KFP API; `--kfp-host` overrides)."""
    if record.mode == "kfp":
        host = settings.kfp_host or record.kfp_host
        if not host:
            raise DriftloopError(f"run {record.id} ran on KFP at an unrecorded address; give --kfp-host")
        return KfpPipelineBackend(host, settings.mlflow_experiment, store)
    return LocalPipelineBackend(settings, store)
