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
ONLINE_STORE_FAILURES = Counter(
    "driftloop_online_store_failures_total", "Requests whose online-store read failed or timed out, by the policy "
    "that answered them (fail_closed: 503; defaults: scored with default features, flagged).", ["policy"],
)  # fmt: skip
UNKNOWN_ENTITIES = Counter(
    "driftloop_unknown_entities_total", "Entities the online store did not know (served with defaults).", ["entity"]
)
_PREDICTION_SCORES: dict[tuple[float, ...], Histogram] = {}  # created once a server knows its use case


def prediction_scores(buckets: tuple[float, ...]) -> Histogram:
    """The histogram of served scores (`driftloop_prediction_score`), with the use case's buckets (a probability's
    or minutes'): one per process, as a process serves one use case."""
    if buckets not in _PREDICTION_SCORES:
        if _PREDICTION_SCORES:
            raise ValueError("this process already serves another use case's scores")
        help_text = "Scores returned (the use case's score), by model version."
        _PREDICTION_SCORES[buckets] = Histogram(
            "driftloop_prediction_score", help_text, ["model_version"], buckets=buckets
        )
    return _PREDICTION_SCORES[buckets]


MODEL_VERSION = Gauge(
    "driftloop_model_version_info", "1 for the model version serving each alias.", ["alias", "model_version"]
)
PREDICTION_LOG_ROWS = Counter("driftloop_prediction_log_rows_total", "Rows published to the prediction log.")
PREDICTION_LOG_WAITING = Gauge(
    "driftloop_prediction_log_rows_waiting", "Answered rows not yet durable (memory) and closed segments not yet "
    "published (segments).", ["stage"],
)  # fmt: skip
PREDICTION_LOG_DROPPED = Counter(
    "driftloop_prediction_log_dropped_total", "Prediction log records that could not be read back, by reason "
    "(a torn record: the batch being written when the process was killed).", ["reason"],
)  # fmt: skip
PREDICTION_LOG_REFUSED = Counter(
    "driftloop_prediction_log_refused_requests_total",
    "Scoring requests answered 503 because the prediction log "
    "could not take more rows (its segments could not be written).",
)
SHADOW_PREDICTIONS = Counter(
    "driftloop_shadow_predictions_total", "Rows scored in shadow (the `shadow` alias).", ["model_version"]
)
LABELS_RECEIVED = Counter("driftloop_labels_received_total", "Labels sent to POST /v1/labels, by outcome.", ["outcome"])
