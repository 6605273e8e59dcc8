"""Drift metrics in Prometheus format: scraped from the local scheduler, pushed by the cluster CronJob."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

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
REALISED_QUALITY = Gauge(
    "driftloop_realised_roc_auc", "ROC AUC of logged predictions once their labels arrived.",
    ["model_version"], registry=REGISTRY,
)  # fmt: skip


def push(gateway: str, job: str) -> None:
    """Push the gauges to a Pushgateway (the cluster CronJob's way to be scraped after it exits)."""
    from prometheus_client import push_to_gateway

    push_to_gateway(gateway, job=job, registry=REGISTRY)
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
SKEW_SHARE = Gauge(
    "driftloop_training_serving_skew_share",
    "Share of served, landed events whose served feature vector differs from the offline point-in-time one.",
    ["model_version"],
    registry=REGISTRY,
)
