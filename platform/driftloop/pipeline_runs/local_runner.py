"""Run the training pipeline on this machine with `kfp.local`: the same pipeline the cluster runs.

The runner creates the MLflow run first, so it knows where the pipeline logs and can report the outcome
(gate decision, registered version, validation failures) from the run itself afterwards.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import psutil

from driftloop.local.process_identity import is_same_process
from driftloop.local.processes import ProcessRecord, spawn
from driftloop.local.runtime import driftloop_command
from driftloop.pipeline_runs.run_ray import run_ray
from driftloop.pipeline_runs.run_record import RunRecord, RunRecordStore
from driftloop.pipeline_runs.submission import builtin_training_source, local_run, new_record
from driftloop.pipeline_runs.task_client import HOST_VARIABLE
from driftloop.pipeline_runs.warm_tasks import COMMAND_HOST_VARIABLE, TASK_MODULES, launcher_path, warm_tasks
from pipelines.core.dependency_probes import check_online_store
from pipelines.core.handoff import Handoff
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings, exported, settings_environment
from pipelines.core.training_request import TrainingOutcome, TrainingRequest
from pipelines.core.use_case import use_case_module
from pipelines.registry.names import RunTag
from pipelines.registry.probe import check_reachable
from pipelines.registry.tracking import client_as
from pipelines.registry.users import MlflowUser

logger = logging.getLogger(__name__)


def run_url(settings: Settings, experiment_id: str, run_id: str) -> str:
    return f"{settings.tracking_uri}/#/experiments/{experiment_id}/runs/{run_id}"


def training_options(request: TrainingRequest) -> list[str]:
    """`driftloop pipeline run training`'s options that carry every field of the request, so a run submitted in
    the background (a drift-triggered retraining) trains exactly what was asked, not the child's settings."""
    options = [
        f"--window-days={request.window_days}",
        f"--seed={request.seed}",
        f"--holdout-days={request.holdout_days}",
        f"--label-maturity-days={request.label_maturity_days}",
        f"--params={request.params_json}",
        f"--trigger={request.trigger}",
        f"--search-trials={request.search_trials}",
        f"--search-seconds={request.search_seconds}",
        "--shuffle-labels" if request.shuffle_labels else "--no-shuffle-labels",
    ]
    return options + ([f"--window-end={request.window_end}"] if request.window_end else [])


def background_command(environment: dict[str, str]) -> list[str]:
    """How to start a `driftloop` command in the background: from the host this process was forked from, when it
    offers its commands (the demo's command host: `driftloop`, kfp and the pipeline are imported there), else as
    a new interpreter. `environment` is the command's; it is told the host when there is one."""
    launcher = launcher_path()
    host = Handoff.living(os.environ.get(COMMAND_HOST_VARIABLE, ""))
    if launcher is None or host is None:
        return driftloop_command()
    environment[HOST_VARIABLE] = str(host)
    return [str(launcher), "-m", "driftloop"]


class LocalPipelineRunner:
    """kfp.local's SubprocessRunner in this interpreter's environment (no venv per task, no pip)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout.from_settings(settings)

    def submit(self, request: TrainingRequest) -> str:
        """Start `driftloop pipeline run training` as a background process; the handle is `local:<pid>:<marker>`
        (the process's start marker, `driftloop.local.process_identity`: a wall-clock step does not move it)."""
        import json

        arguments = ["pipeline", "run", "training", *training_options(request)]
        log_path = self.layout.logs / "retraining.log"
        environment = settings_environment(self.settings, os.environ)
        command = [*background_command(environment), *arguments]
        process = spawn(command, log_path, environment)
        # Recorded like a service, so `driftloop local down` stops a retraining run in flight too.
        record = ProcessRecord.of(process, "retraining", command, log_path)
        record.save(self.layout.run)
        logger.info("submitted retraining (pid %d, log %s): %s", process.pid, log_path, json.dumps(arguments))
        return f"local:{process.pid}:{record.start_marker}"

    def is_active(self, handle: str) -> bool:
        _, pid, marker = handle.split(":", 2)
        if not marker.startswith(("ticks:", "ctime:")):  # a handle from before start markers: its create time
            marker = f"ctime:{marker}"
        try:
            return is_same_process(int(pid), marker) and psutil.Process(int(pid)).status() != psutil.STATUS_ZOMBIE
        except (psutil.Error, ValueError):
            return False

    def run_training(
        self, request: TrainingRequest, record: RunRecord | None = None, log: Path | None = None
    ) -> TrainingOutcome:
        """Run the pipeline here and report its outcome; fails within seconds, naming the address, when MLflow or
        the online store does not answer (MLflow's client retried a refused connection for four minutes). The
        run's record (`pipeline runs`) is `record` when the caller made one, else a new one."""
        check_reachable(self.settings.tracking_uri)
        check_online_store(self.settings)
        environment = settings_environment(self.settings, os.environ)  # what kfp.local's tasks will see
        modules = (*TASK_MODULES, *filter(None, [use_case_module(self.settings.use_case)]))
        with (  # the task host first: the first task waits for it; the Ray is needed from the train step on
            warm_tasks(self.settings.warm_tasks, environment, self.layout.logs / "task-host.log", modules) as host,
            run_ray(self.settings, request, environment, self.layout.logs / "run-ray.log", after=host),
        ):
            return self._run_training(request, record, log)

    def _run_training(self, request: TrainingRequest, record: RunRecord | None, log: Path | None) -> TrainingOutcome:
        from kfp import local

        from pipelines.kfp.training_pipeline import training_pipeline  # lazy: pulls kfp and pandas
        from pipelines.training.steps import training_experiment_id  # lazy: pulls pandas

        store = RunRecordStore(self.layout.pipeline_runs)
        if record is None:
            record = new_record(
                builtin_training_source(), {**request.pipeline_arguments(), "mlflow_run_id": ""}, "local"
            )
        record.log = str(log) if log else record.log

        # kfp.local's tasks inherit this process's environment, and with it the pipeline's MLflow user: in local
        # mode this runner stands where KFP stands in the cluster, whose task pods get that user's Secret.
        client = client_as(self.settings, MlflowUser.PIPELINE)
        experiment_id = training_experiment_id(client, self.settings)
        run = client.create_run(experiment_id, tags={RunTag.RUNNER: "kfp.local", RunTag.TRIGGER: request.trigger})
        run_id = run.info.run_id
        self.layout.pipeline_root.mkdir(parents=True, exist_ok=True)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(self.layout.pipeline_root),
            raise_on_error=True,
        )
        record.mlflow_run_id, record.mlflow_run_url = run_id, run_url(self.settings, experiment_id, run_id)
        with local_run(record, store), exported(self.settings):  # kfp.local's tasks inherit this environment
            training_pipeline(**request.pipeline_arguments(), mlflow_run_id=run_id)
        error = record.error
        if error:
            client.set_terminated(run_id, status="FAILED")
        tags = client.get_run(run_id).data.tags
        if tags.get(RunTag.VALIDATION) == "failed":
            error = (
                f"data contract violated: {tags.get(RunTag.VALIDATION_FAILURES, '?')} (report in the run's validation/)"
            )
        record.model_version = tags.get(RunTag.REGISTERED_VERSION)
        record.error = error
        record.status = "failed" if error else record.status
        store.save(record)
        return TrainingOutcome(
            status="failed" if error else "succeeded",
            mlflow_run_id=run_id,
            run_url=record.mlflow_run_url,
            decision=tags.get(RunTag.GATE_DECISION),
            reason=tags.get(RunTag.GATE_REASON),
            registered_version=record.model_version,
            error=error,
        )
