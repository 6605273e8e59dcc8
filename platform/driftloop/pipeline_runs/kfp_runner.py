"""Run the training pipeline on Kubeflow Pipelines through its v2beta1 API (cluster mode).

It submits the same compiled IR that `driftloop pipeline compile` writes and the chart ships, so the
cluster runs exactly what `kfp.local` runs here. Outcomes are read back from MLflow, where the
pipeline's steps record them, by the KFP run id the pipeline tags its MLflow run with.
"""

from __future__ import annotations

import logging
from typing import Any

from driftloop.pipeline_runs.local_runner import run_url
from driftloop.pipeline_runs.run_record import RunRecord, RunRecordStore
from pipelines.core.dependency_probes import check_kfp_api
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.core.training_request import TrainingOutcome, TrainingRequest
from pipelines.kfp.compile import COMPILED_PIPELINE
from pipelines.registry.names import RunTag
from pipelines.registry.probe import check_reachable
from pipelines.registry.tracking import tracking_client

logger = logging.getLogger(__name__)

ACTIVE_STATES = {"PENDING", "RUNNING", "PAUSED", "CANCELING", "RUNTIME_STATE_UNSPECIFIED"}


class KfpApiRunner:
    """Runs training through the KFP API: cluster mode's runner, what the drift CronJob submits to."""

    def __init__(self, settings: Settings) -> None:
        if not settings.kfp_host:
            raise DriftloopError("cluster mode needs DRIFTLOOP_KFP_HOST (the KFP API, e.g. http://ml-pipeline:8888)")
        self.settings = settings

    def _client(self) -> Any:
        """KFP's client, once its API answers (its own client raises a urllib3 traceback when it does not)."""
        assert self.settings.kfp_host
        check_kfp_api(self.settings.kfp_host)
        import kfp

        return kfp.Client(host=self.settings.kfp_host)

    def submit(self, request: TrainingRequest) -> str:
        arguments = {**request.pipeline_arguments(), "mlflow_run_id": ""}
        run = self._client().create_run_from_pipeline_package(
            str(COMPILED_PIPELINE),
            arguments=arguments,
            run_name=f"training ({request.trigger})",
            experiment_name=self.settings.mlflow_experiment,
            enable_caching=False,
        )
        logger.info("submitted KFP run %s (trigger %s)", run.run_id, request.trigger)
        return f"kfp:{run.run_id}"

    def is_active(self, handle: str) -> bool:
        run = self._client().get_run(handle.removeprefix("kfp:"))
        return str(run.state) in ACTIVE_STATES

    def run_training(self, request: TrainingRequest) -> TrainingOutcome:
        check_reachable(self.settings.tracking_uri)  # the outcome is read from MLflow: no run it could not report
        return self.outcome_of(self.submit(request).removeprefix("kfp:"))

    def outcome_of(self, kfp_run_id: str) -> TrainingOutcome:
        """Wait for a submitted training run to end and read its outcome from the MLflow run its steps tagged."""
        finished = self._client().wait_for_run_completion(kfp_run_id, timeout=3600)
        run = find_mlflow_run(self.settings, kfp_run_id)
        if run is None:
            return TrainingOutcome(
                "failed", "", "", error=f"KFP run {kfp_run_id} ended {finished.state} without an MLflow run"
            )
        tags = run.data.tags
        succeeded = str(finished.state) == "SUCCEEDED"
        return TrainingOutcome(
            status="succeeded" if succeeded else "failed",
            mlflow_run_id=run.info.run_id,
            run_url=run_url(self.settings, run.info.experiment_id, run.info.run_id),
            decision=tags.get(RunTag.GATE_DECISION),
            reason=tags.get(RunTag.GATE_REASON),
            registered_version=tags.get(RunTag.REGISTERED_VERSION),
            error=None if succeeded else f"KFP run {kfp_run_id} ended {finished.state}",
        )


def find_mlflow_run(settings: Settings, kfp_run_id: str) -> Any | None:
    """The MLflow run a KFP run's steps tagged with its id (`kfp.pipeline_run_id`, as the training steps do)."""
    client = tracking_client(settings.tracking_uri)
    experiment = client.get_experiment_by_name(settings.mlflow_experiment)
    runs = client.search_runs(
        [experiment.experiment_id] if experiment else [],
        filter_string=f"tags.`{RunTag.PIPELINE_RUN_ID}` = '{kfp_run_id}'",
    )
    return runs[0] if runs else None


def attach_mlflow_run(record: RunRecord, settings: Settings, store: RunRecordStore) -> RunRecord:
    """Fill a finished cluster run's MLflow run and registered version from MLflow, when its steps tagged one and
    the tracking server answers; a record stays as it is otherwise (`get` must work from a laptop without it)."""
    if record.mode != "kfp" or not record.kfp_run_id or record.mlflow_run_id or record.active:
        return record
    try:
        check_reachable(settings.tracking_uri)
        run = find_mlflow_run(settings, record.kfp_run_id)
    except Exception as unreachable:  # MLflow's client raises its own for logins and 5xx
        logger.info("no MLflow run for %s: %s", record.id, unreachable)
        return record
    if run is not None:
        record.mlflow_run_id = run.info.run_id
        record.mlflow_run_url = run_url(settings, run.info.experiment_id, run.info.run_id)
        record.model_version = run.data.tags.get(RunTag.REGISTERED_VERSION)
        store.save(record)
    return record
