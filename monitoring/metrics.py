"""Drift metrics in Prometheus format: scraped from the local scheduler, pushed by the cluster CronJob."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry()
DRIFT_SHARE = Gauge(
    "driftloop_drift_share", "Share of monitored columns that drifted.", ["model_version"], registry=REGISTRY
)
FEATURE_DRIFT = Gauge(
    "driftloop_feature_drift_score",
    "Evidently drift score per column.",
    ["model_version", "feature"],
    registry=REGISTRY,
)
ROWS_ANALYSED = Gauge("driftloop_drift_rows_analysed", "Prediction log rows in the last check.", registry=REGISTRY)
LAST_RUN = Gauge("driftloop_drift_last_run_timestamp_seconds", "When the last drift check finished.", registry=REGISTRY)
RETRAIN_TRIGGERED = Gauge(
    "driftloop_drift_retrain_triggered", "1 when the last check triggered retraining, else 0.", registry=REGISTRY
)
LOOP_PAUSED = Gauge(
    "driftloop_loop_paused",
    "1 while the loop is paused (`driftloop loop pause`: checks measure, retraining is held), else 0.",
    registry=REGISTRY,
)
REGISTRY_UNREACHABLE = Counter(
    "driftloop_registry_unreachable", "Drift checks that failed because the model registry did not answer.",
    registry=REGISTRY,
)  # fmt: skip
# One name for every use case: `metric` says which (the use case's primary metric), so rules and panels need
# no per-use-case metric names and an alert can never compare one metric with another's threshold.
REALISED_QUALITY = Gauge(
    "driftloop_realised_quality",
    "The use case's primary metric (label `metric`) over served predictions once their labels arrived.",
    ["model_version", "metric"],
    registry=REGISTRY,
)

ESTIMATED_QUALITY = Gauge(
    "driftloop_estimated_quality",
    "The champion's estimated quality over its recent served answers before their labels arrived: `metric` "
    "(roc_auc, precision_at_budget, value_caught), `bound` (value, low, high of the interval).",
    ["model_version", "metric", "bound"],
    registry=REGISTRY,
)
LABELS_ARRIVED_SHARE = Gauge(
    "driftloop_estimate_labels_arrived_share",
    "The share of the estimated answers' labels in when the estimate was made.",
    ["model_version"],
    registry=REGISTRY,
)

ESTIMATION_ERROR = Gauge(
    "driftloop_estimation_error",
    "Estimated minus realised quality of the latest estimate whose answers' labels came in (label `metric`).",
    ["model_version", "metric"],
    registry=REGISTRY,
)
ESTIMATE_COVERED = Gauge(
    "driftloop_estimate_covered",
    "1 when the latest reconciled estimate's interval held the realised value, else 0.",
    ["model_version", "metric"],
    registry=REGISTRY,
)


GATE_DECISION = Gauge(
    "driftloop_gate_last_decision_timestamp_seconds",
    "When the latest training run's gate decided, by its decision and the check that decided it (label_mix, "
    "frozen_set, holdout_size, not_better, beats_champion, ...).",
    ["decision", "check"],
    registry=REGISTRY,
)


def record_gate_decision(started_at_s: float, decision: str, check: str) -> None:
    """One series: the latest decision (an earlier one's labels are cleared, so the panel shows the last)."""
    GATE_DECISION.clear()
    GATE_DECISION.labels(decision, check or "unknown").set(started_at_s)


def record_feature_refresh(
    watermark_s: float | None, freshness_s: float | None, events: int, rows: dict[str, int]
) -> None:
    """The feature refresh's gauges (the refresh itself stays free of metrics: its callers export)."""
    if watermark_s is not None:
        FEATURE_WATERMARK.set(watermark_s)
    if freshness_s is not None:
        FEATURE_FRESHNESS.set(freshness_s)
    FEATURE_REFRESH_EVENTS.set(events)
    for view, count in rows.items():
        FEATURE_REFRESH_ROWS.labels(view).set(count)


def record_store_health(unreadable: dict[str, int], compacted: dict[str, int]) -> None:
    """The event store's gauges after a refresh: files in quarantine now, parts the compaction replaced."""
    for store, count in unreadable.items():
        UNREADABLE_FILES.labels(store).set(count)
    for parts, count in compacted.items():
        COMPACTED_PARTS.labels(parts).set(count)


FEATURE_FRESHNESS = Gauge(
    "driftloop_feature_freshness_seconds",
    "Seconds between now and the newest hour boundary the online store holds features for.",
    registry=REGISTRY,
)
FEATURE_WATERMARK = Gauge(
    "driftloop_feature_watermark_timestamp_seconds",
    "The newest hour boundary materialised by the feature refresh (alerts use time() minus this).",
    registry=REGISTRY,
)
FEATURE_REFRESH_EVENTS = Gauge(
    "driftloop_feature_refresh_events", "Events the last feature refresh read from the event store.", registry=REGISTRY
)
FEATURE_REFRESH_ROWS = Gauge(
    "driftloop_feature_refresh_rows", "Feature rows the last feature refresh wrote, by feature view.", ["view"],
    registry=REGISTRY,
)  # fmt: skip
UNREADABLE_FILES = Gauge(
    "driftloop_unreadable_files",
    "Files and log lines moved aside because no reader could parse them (listed with their reasons by "
    "`driftloop data status`), by store: events (landed parts, labels, the landings log) or predictions.",
    ["store"],
    registry=REGISTRY,
)
COMPACTED_PARTS = Gauge(
    "driftloop_compacted_parts", "Small parts the last compaction replaced, by part set.", ["parts"], registry=REGISTRY
)
SKEW_SHARE = Gauge(
    "driftloop_training_serving_skew_share",
    "Share of served, landed events whose served feature vector differs from the offline point-in-time one.",
    ["model_version"],
    registry=REGISTRY,
)


# What each scheduled job owns: it pushes only these, so no job's push resets another's gauges to zero.
DRIFT_JOB = "driftloop-drift"
QUALITY_JOB = "driftloop-quality"
FEATURE_REFRESH_JOB = "driftloop-feature-refresh"
JOB_METRICS = {
    DRIFT_JOB: (
        DRIFT_SHARE,
        FEATURE_DRIFT,
        ROWS_ANALYSED,
        LAST_RUN,
        RETRAIN_TRIGGERED,
        LOOP_PAUSED,
        SKEW_SHARE,
        REGISTRY_UNREACHABLE,
        GATE_DECISION,
        ESTIMATED_QUALITY,
        LABELS_ARRIVED_SHARE,
    ),
    QUALITY_JOB: (REALISED_QUALITY, ESTIMATION_ERROR, ESTIMATE_COVERED),
    FEATURE_REFRESH_JOB: (
        FEATURE_FRESHNESS,
        FEATURE_WATERMARK,
        FEATURE_REFRESH_EVENTS,
        FEATURE_REFRESH_ROWS,
        UNREADABLE_FILES,
        COMPACTED_PARTS,
    ),
}


def push(gateway: str, job: str) -> None:
    """Push one job's gauges to a Pushgateway (how a CronJob is scraped after it exits)."""
    from prometheus_client import push_to_gateway

    own = CollectorRegistry()
    for collector in JOB_METRICS[job]:
        own.register(collector)
    push_to_gateway(gateway, job=job, registry=own)
