"""MLflow clients with their server named explicitly: nothing here leaves MLflow's process-wide state set.

Clients get the tracking and registry URI they talk to. Only model logging and registration have no client
form in MLflow (`mlflow.sklearn.log_model`, `mlflow.register_model`); `fluent_tracking` points MLflow's
process-wide URI at our server for that block alone and puts back what was there, including the
`MLFLOW_TRACKING_URI` variable MLflow exports for child processes, so nothing after it sees our URI.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipelines.registry.names import RunMetric, RunTag
from pipelines.registry.users import MlflowUser, act_as

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from pipelines.core.settings import Settings

TRACKING_URI_VARIABLE = "MLFLOW_TRACKING_URI"  # MLflow's own, set by `mlflow.set_tracking_uri`


def tracking_client(tracking_uri: str) -> MlflowClient:
    """A client of this server, for tracking and registry alike."""
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def client_as(settings: Settings, user: MlflowUser) -> MlflowClient:
    """A client of the platform's server that talks as `user` (pipelines.registry.users.act_as)."""
    act_as(settings, user)
    return tracking_client(settings.tracking_uri)


@contextmanager
def fluent_tracking(tracking_uri: str) -> Iterator[None]:
    """MLflow's fluent API talks to `tracking_uri` inside the block only."""
    import mlflow

    exported = os.environ.get(TRACKING_URI_VARIABLE)
    previous = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    mlflow.set_tracking_uri(tracking_uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)  # type: ignore[arg-type]  # None unsets it, as MLflow's own restore does
        if exported is None:
            os.environ.pop(TRACKING_URI_VARIABLE, None)
        else:
            os.environ[TRACKING_URI_VARIABLE] = exported


@contextmanager
def in_run(tracking_uri: str, run_id: str) -> Iterator[Any]:
    """The run `run_id` as MLflow's active run, for the fluent logging calls inside the block."""
    import mlflow

    with fluent_tracking(tracking_uri), mlflow.start_run(run_id=run_id) as run:
        yield run


def load_sklearn_version(client: MlflowClient, name: str, version: str) -> Any:
    """A registered version's scikit-learn model, downloaded from the client's own server."""
    import mlflow.artifacts
    import mlflow.sklearn

    # The version's storage location from this registry: a `models:/` URI would be resolved by MLflow against
    # its process-wide registry, not this client's.
    location = client.get_model_version_download_uri(name, version)
    local_path = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=client.tracking_uri)
    return mlflow.sklearn.load_model(local_path)


def gate_decisions(client: MlflowClient, experiment_name: str, last: int) -> list[dict[str, Any]]:
    """The latest training runs' gate decisions with their reasons and the evidence they weighed (newest first):
    what `monitor status` shows beside the drift decisions, so a held or rejected retraining is seen where the
    trigger was."""
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    runs = client.search_runs(
        [experiment.experiment_id], f"tags.{RunTag.GATE_DECISION} != ''", max_results=last,
        order_by=["attributes.start_time DESC"],
    )  # fmt: skip
    return [
        {
            "run_id": run.info.run_id,
            "started_at": datetime.fromtimestamp(run.info.start_time / 1000, UTC).isoformat(),
            "trigger": run.data.tags.get(RunTag.TRIGGER, ""),
            "decision": run.data.tags[RunTag.GATE_DECISION],
            "reason": run.data.tags.get(RunTag.GATE_REASON, ""),
            "check": run.data.tags.get(RunTag.GATE_CHECK, ""),
            "registered_version": run.data.tags.get(RunTag.REGISTERED_VERSION, ""),
            "evidence": _evidence(run.data.metrics, run.data.tags),
        }
        for run in runs
    ]


def _evidence(metrics: dict[str, float], tags: dict[str, str]) -> dict[str, Any] | None:
    """The improvement over the champion a run's evaluation measured (None: no champion, or an older run)."""
    metric = tags.get(RunTag.EVIDENCE_METRIC)
    if not metric or RunMetric.IMPROVEMENT not in metrics:
        return None
    positives = metrics.get(RunMetric.POSITIVES)

    def number(name: RunMetric) -> float | None:  # NaN (an undefined bound) is not JSON: None instead
        value = metrics.get(name)
        return None if value is None or math.isnan(value) else value

    return {
        "metric": metric,
        "improvement": number(RunMetric.IMPROVEMENT),
        "low": number(RunMetric.IMPROVEMENT_LOW),
        "high": number(RunMetric.IMPROVEMENT_HIGH),
        "confidence": number(RunMetric.CONFIDENCE),
        "positives": None if positives is None else int(positives),
        "rows": int(metrics.get(RunMetric.ROWS, 0)),
        "undefined": tags.get(RunTag.EVIDENCE_UNDEFINED, ""),
    }
