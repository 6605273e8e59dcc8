"""Realised model quality: once labels arrive, how good were the predictions we actually served?

Requests may carry an `event_id` (the event id the labels refer to); it is logged with the prediction, and
here joined to the labels. The result, the use case's realised metric per model version and hour (fraud: ROC
AUC; delivery: MAE), is saved
beside the drift checks and exported as a gauge, so a dashboard shows quality next to drift.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from monitoring import metrics
from monitoring.dashboard import DashboardPlan
from monitoring.label_maturity import cohort_maturity, delay_model_of, save_label_maturity
from monitoring.reconciliation import RECONCILIATION_FILE, reconcile
from monitoring.state import MonitorStore
from monitoring.workspace import delete_snapshot, project_name, quality_snapshot, save_snapshot
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import EVENT_ID, UseCase, load_use_case
from pipelines.data.event_store import EventStore, event_store_for
from pipelines.data.label_history import latest_labels, usable_times
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, PREDICTION, ROLE, SERVED, read_prediction_log
from pipelines.data.storage import prediction_log_folder

logger = logging.getLogger(__name__)


def labelled_answers(log: pd.DataFrame, labels: pd.DataFrame, label: str) -> pd.DataFrame:
    """Served answers whose label arrived: model_version, hour (of the answer), prediction, the label."""
    if log.empty or EVENT_ID not in log.columns:
        return pd.DataFrame(columns=[MODEL_VERSION, "hour", PREDICTION, label])
    served = log[(log[ROLE] == SERVED) & log[EVENT_ID].notna()]
    joined = served.merge(labels[[EVENT_ID, label]], on=EVENT_ID, how="inner")
    return joined.assign(hour=joined[LOGGED_AT].dt.floor("h"))[[MODEL_VERSION, "hour", PREDICTION, label]]


def realised_quality(log: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase) -> pd.DataFrame:
    """The use case's realised metric of served predictions per model version and hour, where it is defined."""
    return realised_quality_of(labelled_answers(log, labels, use_case.label.name), use_case)


def realised_quality_of(answers: pd.DataFrame, use_case: UseCase) -> pd.DataFrame:
    """One row per (version, hour) with enough labelled answers for the metric to mean something."""
    metric, label = use_case.metric, use_case.label.name
    rows = []
    for (version, hour), group in answers.groupby([MODEL_VERSION, "hour"]):
        if len(group) < metric.realised_min_rows:
            continue
        value = metric.realised(group[label].to_numpy(), group[PREDICTION].to_numpy())
        if value is not None:
            rows.append({MODEL_VERSION: version, "hour": hour, "rows": len(group), metric.primary: value})
    return pd.DataFrame(rows, columns=[MODEL_VERSION, "hour", "rows", metric.primary])


def record_realised_quality(settings: Settings) -> pd.DataFrame:
    """Realised quality from the prediction log and the event store's labels: saved as CSV, exported as a gauge,
    and as Evidently snapshots (one per version and hour, replaced as more labels arrive) for the dashboard."""
    use_case = load_use_case(settings.use_case)
    store = event_store_for(settings)
    records = usable_times(store.label_records())  # read once: current labels and first arrivals both come from it
    labels = latest_labels(records, use_case.label.name)
    log = read_prediction_log(prediction_log_folder(settings))
    answers = labelled_answers(log, labels, use_case.label.name)
    quality = realised_quality_of(answers, use_case)
    folder = Layout.from_settings(settings).monitor
    folder.mkdir(parents=True, exist_ok=True)
    quality.to_csv(folder / "realised_quality.csv", index=False)
    export_realised_quality(quality, use_case.metric.primary)
    _save_quality_snapshots(settings, answers, quality, use_case)
    logger.info("realised quality: %d (version, hour) windows", len(quality))
    _record_label_maturity(store, records, log, labels, use_case, folder)
    _reconcile_estimates(folder, log, labels, use_case)
    return quality


RECONCILED_DECISIONS = 500  # the drift checks whose estimates are held to their realised values


def _reconcile_estimates(folder: Path, log: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase) -> None:
    """The drift checks' estimates whose answers' labels are in, beside the realised values
    (`estimation_error.csv`); the latest per version and metric as gauges."""
    reconciled = reconcile(MonitorStore(folder).decisions(RECONCILED_DECISIONS), log, labels, use_case)
    reconciled.to_csv(folder / RECONCILIATION_FILE, index=False)
    for (version, metric), group in reconciled.groupby(["model_version", "metric"]):
        latest = group.iloc[-1]
        metrics.ESTIMATION_ERROR.labels(str(version), str(metric)).set(float(latest["error"]))
        metrics.ESTIMATE_COVERED.labels(str(version), str(metric)).set(1.0 if latest["covered"] else 0.0)
    if len(reconciled):
        logger.info(
            "estimates reconciled: %d, %.0f%% inside their interval",
            len(reconciled),
            100 * reconciled["covered"].mean(),
        )


def _record_label_maturity(
    store: EventStore, records: pd.DataFrame, log: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase, folder: Path
) -> None:
    """The labels' arrival curves over the event store's history and each served cohort's maturity, saved
    beside realised quality (monitoring/label_maturity.py)."""
    event_times = store.event_times()
    if event_times.empty:
        return
    now = pd.Timestamp.now(tz="UTC")
    model = delay_model_of(event_times, records, labels, use_case, now)
    save_label_maturity(folder, model, cohort_maturity(log, labels, model, now))
    logger.info(
        "label delay: median %.1f h over %d events (%d labelled)", model.overall.median_h, model.events, model.arrived
    )


def export_realised_quality(quality: pd.DataFrame, primary: str) -> None:
    """Each version's latest hour as the gauge, labelled with the metric so a rule compares like with like."""
    for version, group in quality.groupby(MODEL_VERSION):
        metrics.REALISED_QUALITY.labels(str(version), primary).set(float(group.iloc[-1][primary]))


def _save_quality_snapshots(
    settings: Settings, answers: pd.DataFrame, quality: pd.DataFrame, use_case: UseCase
) -> None:
    """One Evidently snapshot per (version, hour) with a realised metric; an hour whose labelled rows grew
    since its snapshot gets a new one in place of the old (labels keep arriving for days)."""
    layout = Layout.from_settings(settings)
    state_path = layout.quality_snapshots
    state_path.parent.mkdir(parents=True, exist_ok=True)
    saved: dict[str, dict[str, object]] = json.loads(state_path.read_text()) if state_path.exists() else {}
    groups = answers.groupby([MODEL_VERSION, "hour"])
    for row in quality.to_dict("records"):
        version, hour, rows = str(row[MODEL_VERSION]), pd.Timestamp(row["hour"]), int(row["rows"])
        key = f"{version}/{hour.isoformat()}"
        if saved.get(key, {}).get("rows") == rows:
            continue
        if key in saved:
            delete_snapshot(layout.evidently_workspace, project_name(settings), str(saved[key]["snapshot"]))
        group = groups.get_group((row[MODEL_VERSION], row["hour"]))
        label = group[use_case.label.name]
        snapshot = quality_snapshot(version, group[PREDICTION], label, hour, use_case.metric.evidently)
        snapshot_id = save_snapshot(
            layout.evidently_workspace, project_name(settings), snapshot, f"quality v{version} {key}",
            settings.drift_share_threshold, version, plan=DashboardPlan.of(use_case),
        )  # fmt: skip
        saved[key] = {"rows": rows, "snapshot": snapshot_id}
        state_path.write_text(json.dumps(saved, indent=1))
