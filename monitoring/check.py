"""One drift check, start to end: the command the CronJob and the local scheduler both run.

Window of the prediction log answered by the champion -> Evidently report against the champion's
reference sample -> snapshot into the Evidently workspace -> metrics -> the retraining policy ->
maybe a retraining run through the runner. Every decision, trigger or not, is recorded with its reason.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.pipeline_runs.request import PipelineRunner, TrainingRequest
from driftloop.settings import Settings
from monitoring import metrics
from monitoring.policy import PolicyInputs, RetrainPolicy, decide
from monitoring.state import MonitorStore
from pipelines.prediction_log_format import LOGGED_AT, ROLE, read_prediction_log

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    checked_at: str
    model_version: str
    window_key: str
    window_start: str
    window_end: str
    rows: int
    drift_share: float | None
    drifted_columns: list[str]
    action: str
    reason: str
    retraining_run: str | None
    snapshot_id: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_from(settings: Settings) -> RetrainPolicy:
    return RetrainPolicy(
        drift_share_threshold=settings.drift_share_threshold,
        min_rows=settings.drift_min_rows,
        cooldown=timedelta(minutes=settings.retrain_cooldown_minutes),
    )


def monitor_store(settings: Settings) -> MonitorStore:
    return MonitorStore(settings.state_dir / "monitor")


def _window(settings: Settings, now: datetime, since: datetime | None) -> tuple[datetime, datetime]:
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # windows are whole minutes
    start = since or end - timedelta(minutes=settings.drift_window_minutes)
    return start, end


def run_check(
    settings: Settings, runner: PipelineRunner, now: datetime | None = None, since: datetime | None = None
) -> CheckOutcome:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from monitoring.drift import run_drift_report
    from monitoring.reference import load_reference
    from monitoring.workspace import save_snapshot

    now = now or datetime.now(UTC)
    client = MlflowClient(settings.tracking_uri)
    try:
        version = str(client.get_model_version_by_alias(settings.model_name, "champion").version)
    except MlflowException as error:
        raise DriftloopError(f"no champion to monitor yet ({settings.model_name}@champion)") from error
    start, end = _window(settings, now, since)
    key = f"v{version}:{start:%Y-%m-%dT%H:%M:%S}/{end:%Y-%m-%dT%H:%M}"
    log = read_prediction_log(settings.prediction_log_path, since=pd.Timestamp(start))
    if len(log):
        log = log[(log[ROLE] == "served") & (log["model_version"] == version) & (log[LOGGED_AT] < pd.Timestamp(end))]
    store = monitor_store(settings)
    state = store.load()
    if state.run_in_flight and not runner.is_active(state.run_in_flight):
        logger.info("retraining run %s has finished", state.run_in_flight)
        state.run_in_flight = None

    drift, snapshot_id = None, None
    if len(log) >= settings.drift_min_rows:
        reference = load_reference(client, settings.model_name, version, settings.state_dir / "monitor" / "reference")
        drift = run_drift_report(reference, log)
        snapshot_id = save_snapshot(
            settings.evidently_workspace_path, f"{settings.model_name} drift", drift.snapshot, f"v{version} {key}"
        )
        metrics.DRIFT_SHARE.labels(version).set(drift.drift_share)
        for column, score in drift.column_scores.items():
            metrics.FEATURE_DRIFT.labels(version, column).set(score)
    decision = decide(
        policy_from(settings),
        PolicyInputs(
            window_key=key,
            drift_share=drift.drift_share if drift else 0.0,
            rows=len(log),
            now=now,
            last_trigger_at=state.last_trigger_time,
            run_in_flight=state.run_in_flight,
            handled_windows=frozenset(state.handled_windows),
        ),
    )
    handle = None
    if decision.triggers:
        request = TrainingRequest.from_settings(settings, trigger=f"drift:{key}")
        handle = runner.submit(request)
        state.last_trigger_at = now.isoformat()
        state.run_in_flight = handle
    if len(log) >= settings.drift_min_rows and key not in state.handled_windows:
        state.handled_windows.append(key)  # decided on enough rows: a re-run of this window changes nothing
    store.save(state)
    outcome = CheckOutcome(
        checked_at=now.isoformat(), model_version=version, window_key=key, window_start=start.isoformat(),
        window_end=end.isoformat(), rows=len(log), drift_share=drift.drift_share if drift else None,
        drifted_columns=drift.drifted_columns if drift else [], action=decision.action, reason=decision.reason,
        retraining_run=handle, snapshot_id=snapshot_id,
    )  # fmt: skip
    store.record(outcome.as_dict())
    metrics.ROWS_ANALYSED.set(len(log))
    metrics.RETRAIN_TRIGGERED.set(1 if decision.triggers else 0)
    metrics.LAST_RUN.set(now.timestamp())
    logger.info("drift check %s: %s (%s)", key, decision.action, decision.reason)
    return outcome
