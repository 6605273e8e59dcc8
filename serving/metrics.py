"""Prometheus metrics of the model servers, served on KServe's own `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

REQUESTS = Counter(
    "driftloop_inference_requests_total", "Inference requests by server, model version and status.",
    ["server", "model_version", "status"],
)  # fmt: skip
REQUEST_LATENCY = Histogram(
    "driftloop_inference_request_seconds", "Inference latency inside the server (parse to answer).",
    ["server", "model_version"], buckets=LATENCY_BUCKETS,
)  # fmt: skip
FEATURE_LOOKUP_LATENCY = Histogram(
    "driftloop_feature_lookup_seconds", "Feast online feature lookup latency per request.", buckets=LATENCY_BUCKETS
)
UNKNOWN_ENTITIES = Counter(
    "driftloop_unknown_entities_total", "Entities the online store did not know (served with defaults).", ["entity"]
)
PREDICTION_SCORE = Histogram(
    "driftloop_prediction_score", "Fraud scores returned, by model version.", ["model_version"],
    buckets=(0.01, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0),
)  # fmt: skip
MODEL_VERSION = Gauge(
    "driftloop_model_version_info", "1 for the model version serving each alias.", ["alias", "model_version"]
)
PREDICTION_LOG_ROWS = Counter("driftloop_prediction_log_rows_total", "Rows written to the prediction log.")
SHADOW_PREDICTIONS = Counter(
    "driftloop_shadow_predictions_total", "Rows scored in shadow by the challenger.", ["model_version"]
)
LABELS_RECEIVED = Counter("driftloop_labels_received_total", "Labels sent to POST /v1/labels, by outcome.", ["outcome"])
