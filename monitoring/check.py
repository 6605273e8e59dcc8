"""One drift check, start to end: the command the CronJob and the local scheduler both run.

Window of the prediction log answered by the champion -> Evidently report against the champion's
reference sample -> snapshot into the Evidently workspace -> metrics -> the retraining policy ->
maybe a retraining run through the runner. Every decision, trigger or not, is recorded with its reason; while
the loop is paused (`monitoring.loop_pause`) a trigger is recorded as held, and nothing is submitted. A dry run
measures and decides the same way but records, saves, exports and submits nothing.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from monitoring import metrics
from monitoring.canary_check import CanaryOutcome, check_canary
from monitoring.dashboard import DRIFT_TAG, DashboardPlan, version_tag
from monitoring.drift import DriftResult, MonitoredColumns, run_drift_report, served_rows_fingerprint
from monitoring.estimation_inputs import (
    ChampionEstimate,
    EstimationSettings,
    estimate_champion,
    load_calibration_sample,
    reference_of,
    served_answers,
)
from monitoring.label_maturity import delay_model_of
from monitoring.loop_pause import PauseSwitch
from monitoring.policy import FAILED, NO_TRIGGER, PAUSED, PolicyInputs, RetrainPolicy, decide
from monitoring.reference import load_reference, reference_cache
from monitoring.skew import SkewResult, check_skew
from monitoring.state import MonitorStore
from monitoring.workspace import project_name, save_snapshot, skew_snapshot
from pipelines.core.alert_budget import alert_budget
from pipelines.core.errors import RegistryUnreachableError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.training_request import PipelineRunner, TrainingRequest
from pipelines.core.use_case import Skip, UseCase, load_use_case
from pipelines.data.event_store import event_store_for
from pipelines.data.label_history import latest_labels, usable_times
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, ROLE, SERVED, read_prediction_log
from pipelines.data.storage import prediction_log_folder
from pipelines.features.refresh import current_watermark
from pipelines.features.training_set_build import offline_point_in_time
from pipelines.registry.models import current_champion
from pipelines.registry.probe import check_reachable
from pipelines.registry.tracking import client_as, gate_decisions
from pipelines.registry.users import MlflowUser

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckOutcome:
    """What one drift check saw and decided: the record `monitor status` lists and the gauges report."""

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
    skew_share: float | None = None
    skew_rows: int = 0
    skew_columns: dict[str, int] = field(default_factory=dict)
    skew_stale: int = 0  # served from a streamed row the worker had not replaced yet (freshness, not skew)
    signal: str = "none"  # which signal fired: drift, estimated_harm, both, or none
    estimate: dict[str, Any] | None = None  # the champion's estimated quality (ChampionEstimate.as_dict)
    pause: dict[str, str] | None = None  # the loop's pause in force at the check (LoopPause.as_dict), else None
    held_action: str | None = None  # what the pause held (`trigger`) when `action` is `paused`
    dry_run: bool = False  # `monitor run --dry-run`: decided, but nothing recorded or submitted
    canary: dict[str, Any] | None = None  # this check's look at the canary (CanaryOutcome.as_dict), if one runs

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def policy_from(settings: Settings) -> RetrainPolicy:
    return RetrainPolicy(
        drift_share_threshold=settings.drift_share_threshold,
        min_rows=settings.drift_min_rows,
        cooldown=timedelta(minutes=settings.retrain_cooldown_minutes),
        harm_margin=settings.harm_margin,
        retrain_on_drift=settings.retrain_on_drift,
    )


def monitor_store(settings: Settings) -> MonitorStore:
    return MonitorStore(Layout.from_settings(settings).monitor)


def pause_switch(settings: Settings) -> PauseSwitch:
    return PauseSwitch(Layout.from_settings(settings).monitor)


def _window(settings: Settings, now: datetime, since: datetime | None) -> tuple[datetime, datetime]:
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)  # windows are whole minutes
    start = since or end - timedelta(minutes=settings.drift_window_minutes)
    return start, end


def _export_gate_decision(settings: Settings, client: Any) -> None:
    """The latest training run's gate decision as a gauge: a held or rejected retraining shows on the dashboard
    and can alert, beside the drift that triggered it."""
    try:
        latest = gate_decisions(client, settings.mlflow_experiment, 1)
    except Exception:  # noqa: BLE001 - a metric; the drift check goes on without it
        logger.warning("could not read the latest gate decision", exc_info=True)
        return
    if latest:
        started = datetime.fromisoformat(latest[0]["started_at"]).timestamp()
        metrics.record_gate_decision(started, latest[0]["decision"], latest[0]["check"])


def run_check(
    settings: Settings,
    runner: PipelineRunner,
    now: datetime | None = None,
    since: datetime | None = None,
    *,
    dry_run: bool = False,
) -> CheckOutcome:
    """One check. `dry_run`: the decision this check would make, with no file, snapshot, gauge or run changed."""
    try:
        return _run_check(settings, runner, now or datetime.now(UTC), since, dry_run)
    finally:  # every check, a failed one too: the pause holds retraining whatever the registry says
        if not dry_run:
            metrics.LOOP_PAUSED.set(1 if pause_switch(settings).current() else 0)


def _run_check(
    settings: Settings, runner: PipelineRunner, now: datetime, since: datetime | None, dry_run: bool
) -> CheckOutcome:
    layout = Layout.from_settings(settings)
    store = monitor_store(settings)
    try:
        check_reachable(settings.tracking_uri)  # before MLflow's import: seconds, not its minutes of retries
        client = client_as(settings, MlflowUser.MONITOR)
        canary = _canary(settings, client, store, now, dry_run)  # first: its promotion changes the champion
        champion = current_champion(client, settings.model_name)
    except RegistryUnreachableError as error:
        if not dry_run:
            _record_failure(store, now, error.message)
            metrics.REGISTRY_UNREACHABLE.inc()
        raise
    if not dry_run:
        _export_gate_decision(settings, client)
    if champion is None:
        return _record_without_champion(settings, store, now, dry_run)
    version = str(champion.version)
    start, end = _window(settings, now, since)
    key = f"v{version}:{start:%Y-%m-%dT%H:%M:%S}/{end:%Y-%m-%dT%H:%M}"
    window = read_prediction_log(prediction_log_folder(settings), since=pd.Timestamp(start))
    if len(window):
        window = window[(window[ROLE] == SERVED) & (window[LOGGED_AT] < pd.Timestamp(end))]
    log = window[window[MODEL_VERSION] == version] if len(window) else window
    skew = _skew(settings, window)
    use_case = load_use_case(settings.use_case)
    plan = DashboardPlan.of(use_case)
    if skew.share is not None and not dry_run:
        metrics.SKEW_SHARE.labels(version).set(skew.share)
        save_snapshot(
            layout.evidently_workspace, project_name(settings),
            skew_snapshot(skew.rows, skew.mismatched_rows, _skew_metadata(skew)), f"skew {key}",
            settings.drift_share_threshold, plan=plan,
        )  # fmt: skip
    state = store.load()
    if state.run_in_flight and not runner.is_active(state.run_in_flight):
        logger.info("retraining run %s has finished", state.run_in_flight)
        state.run_in_flight = None

    drift, snapshot_id = None, None
    with reference_cache(layout.monitor_references, dry_run) as references:
        if len(log) >= settings.drift_min_rows:
            watched = MonitoredColumns.of(use_case)
            fingerprint = served_rows_fingerprint(version, log, watched)
            earlier = state.last_drift if (state.last_drift or {}).get("fingerprint") == fingerprint else None
            if earlier is not None:  # the same answers as the last report's (labels came back, no new traffic)
                drift, snapshot_id = DriftResult.of_record(earlier), earlier.get("snapshot_id")
                logger.info("drift report: the window holds the last report's %d answers; it stands", drift.rows)
            else:
                reference = load_reference(client, settings.model_name, version, references)
                drift = run_drift_report(
                    reference, log, watched, metadata=_skew_metadata(skew), tags=[DRIFT_TAG, version_tag(version)]
                )
            if not dry_run and earlier is None:
                snapshot_id = save_snapshot(
                    layout.evidently_workspace, project_name(settings), drift.snapshot, f"v{version} {key}",
                    settings.drift_share_threshold, version, plan=plan,
                )  # fmt: skip
                state.last_drift = {**drift.record(), "fingerprint": fingerprint, "snapshot_id": snapshot_id}
            if not dry_run:
                metrics.DRIFT_SHARE.labels(version).set(drift.drift_share)
                for column, score in drift.column_scores.items():
                    metrics.FEATURE_DRIFT.labels(version, column).set(score)
        estimate = _champion_estimate(settings, client, version, use_case, now, since, references)
    if estimate is not None and not dry_run:
        _export_estimate(version, estimate)
    pause = pause_switch(settings).current()  # read last, so a pause made during the report still holds
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
            harm=estimate.harm if estimate else None,
            pause=pause.describe() if pause else None,
            canary=canary.describe() if canary is not None and canary.running else None,
        ),
    )
    handle = None
    if decision.triggers and not dry_run:
        # A changed world may want other hyperparameters: a drift-triggered run searches within the settings' budget.
        request = TrainingRequest.from_settings(settings, trigger=f"drift:{key}", search_trials=settings.search_trials)
        handle = runner.submit(request)
        state.last_trigger_at = now.isoformat()
        state.run_in_flight = handle
    if decision.triggers and key not in state.handled_windows:
        # A window triggers once. One that did not is decided again on a re-run: labels that arrived since may
        # show the harm its first estimate could not. A window the pause held did not trigger: after a resume,
        # the next check may trigger on it.
        state.handled_windows.append(key)
    outcome = CheckOutcome(
        checked_at=now.isoformat(), model_version=version, window_key=key, window_start=start.isoformat(),
        window_end=end.isoformat(), rows=len(log), drift_share=drift.drift_share if drift else None,
        drifted_columns=drift.drifted_columns if drift else [], action=decision.action, reason=decision.reason,
        retraining_run=handle, snapshot_id=snapshot_id, skew_share=skew.share, skew_rows=skew.rows,
        skew_columns=skew.columns, skew_stale=skew.stale, signal=decision.signal,
        estimate=estimate.as_dict() if estimate else None, pause=pause.as_dict() if pause else None,
        held_action="trigger" if decision.action == PAUSED else None, dry_run=dry_run,
        canary=canary.as_dict() if canary is not None else None,
    )  # fmt: skip
    if dry_run:
        logger.info("drift check %s (dry run, nothing recorded): %s (%s)", key, decision.action, decision.reason)
        return outcome
    store.save(state)
    store.record(outcome.as_dict())
    metrics.ROWS_ANALYSED.set(len(log))
    metrics.RETRAIN_TRIGGERED.set(1 if decision.triggers else 0)
    metrics.LAST_RUN.set(now.timestamp())
    logger.info("drift check %s: %s (%s)", key, decision.action, decision.reason)
    return outcome


def _canary(settings: Settings, client: Any, store: MonitorStore, now: datetime, dry_run: bool) -> CanaryOutcome | None:
    """The canary's look (None when none runs). An unreachable registry stops the check as before; any other
    failure is logged and the drift check goes on (a canary that could not be judged is judged at the next)."""
    try:
        return check_canary(settings, client, load_use_case(settings.use_case), store, now, dry_run)
    except RegistryUnreachableError:
        raise
    except Exception:  # noqa: BLE001 - the drift check must not stop on the canary's failure
        logger.warning("could not judge the canary; the drift check goes on", exc_info=True)
        return None


def _champion_estimate(
    settings: Settings,
    client: Any,
    version: str,
    use_case: UseCase,
    now: datetime,
    since: datetime | None,
    references: Path,
) -> ChampionEstimate | None:
    """The champion's estimated quality over its answers since `since` (an operator's "judge from here") or of
    the last `estimate_window_hours` (a scheduled check: a drift window's hour holds too few positives to judge);
    None for a use case without alerts to estimate, a champion without a calibration sample,
    or a failure (logged: the check goes on, and drift decides alone)."""
    budget = alert_budget(use_case, settings)
    if use_case.label.kind != "binary" or isinstance(budget, Skip):
        return None
    try:
        sample = load_calibration_sample(client, settings.model_name, version, references)
        if sample is None:
            return None
        start = pd.Timestamp(since) if since else pd.Timestamp(now) - pd.Timedelta(hours=settings.estimate_window_hours)
        log = read_prediction_log(prediction_log_folder(settings), since=start)
        served = served_answers(log[log[LOGGED_AT] >= start] if len(log) else log, version)
        if served.empty:
            return None
        store = event_store_for(settings)
        records = usable_times(store.label_records())
        labels = latest_labels(records, use_case.label.name)
        stamp = pd.Timestamp(now)
        delay = delay_model_of(store.event_times(), records, labels, use_case, stamp)
        how = EstimationSettings(budget, settings.estimate_draws, settings.estimate_confidence, settings.seed)
        reference = reference_of(client, settings.model_name, version, use_case.metric.primary)
        estimate = estimate_champion(served, labels, delay, sample, reference, use_case, how, stamp)
    except Exception:  # noqa: BLE001 - an estimate informs the decision; its failure must not stop the check
        logger.warning("could not estimate the champion's quality; drift decides alone", exc_info=True)
        return None
    return estimate


def _export_estimate(version: str, estimate: ChampionEstimate) -> None:
    for name, value in estimate.estimates.items():
        for bound in ("value", "low", "high"):
            metrics.ESTIMATED_QUALITY.labels(version, name, bound).set(getattr(value, bound))
    metrics.LABELS_ARRIVED_SHARE.labels(version).set(estimate.arrived_share)


def _skew(settings: Settings, served: pd.DataFrame) -> SkewResult:
    """The skew check over the window's served transactions (every version: skew is about features)."""
    if served.empty:
        return SkewResult(0, 0, 0)
    use_case = load_use_case(settings.use_case)
    store = event_store_for(settings)
    return check_skew(
        lambda events: offline_point_in_time(settings, events), served, current_watermark(settings), use_case,
        lambda since: store.events(start=since),
    )  # fmt: skip


def _skew_metadata(skew: SkewResult) -> dict[str, str]:
    if skew.share is None:
        return {"training_serving_skew": f"not measured yet ({skew.pending} served transactions pending)"}
    columns = ", ".join(f"{name} ({count})" for name, count in skew.columns.items()) or "none"
    return {
        "training_serving_skew_share": f"{skew.share:.4f}",
        "training_serving_skew_rows": str(skew.rows),
        "training_serving_skew_columns": columns,
        "training_serving_stale_rows": f"{skew.stale} (served before the stream worker caught up, up to "
        f"{skew.stale_behind_s:.1f}s)",
    }


def _record_failure(store: MonitorStore, now: datetime, reason: str) -> None:
    """A check that could not run is a decision too (`failed`, with the reason), not silence."""
    outcome = CheckOutcome(
        checked_at=now.isoformat(), model_version="", window_key="", window_start="", window_end="", rows=0,
        drift_share=None, drifted_columns=[], action=FAILED, reason=reason, retraining_run=None, snapshot_id=None,
    )  # fmt: skip
    store.record(outcome.as_dict())
    logger.error("drift check failed: %s", reason)


def _record_without_champion(settings: Settings, store: MonitorStore, now: datetime, dry_run: bool) -> CheckOutcome:
    """Before the first model there is nothing to monitor: a decision like any other, not a failure."""
    outcome = CheckOutcome(
        checked_at=now.isoformat(), model_version="", window_key="", window_start="", window_end="", rows=0,
        drift_share=None, drifted_columns=[], action=NO_TRIGGER,
        reason=f"no champion yet ({settings.model_name}@champion): nothing to monitor",
        retraining_run=None, snapshot_id=None, dry_run=dry_run,
    )  # fmt: skip
    if dry_run:
        return outcome
    store.record(outcome.as_dict())
    metrics.LAST_RUN.set(now.timestamp())
    logger.info("drift check: %s", outcome.reason)
    return outcome
