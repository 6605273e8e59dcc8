"""The stream worker's Prometheus metrics: freshness (the service level), backlog, what records did, push time."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# From an answer to its effect in the online store; the objective is DRIFTLOOP_FRESHNESS_OBJECTIVE_S (1 s).
FRESHNESS = Histogram(
    "driftloop_stream_freshness_seconds",
    "Seconds from an answered transaction to its streamed view's row in the online store.",
    ["view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0),
)
STREAM_BACKLOG = Gauge(
    "driftloop_stream_backlog_records", "Records of a stream the worker has not acknowledged yet.", ["stream"]
)
STREAM_RECORDS = Counter(
    "driftloop_stream_records_total",
    "Records folded into a view, by outcome: folded (changed the entity's row) or unchanged (seen before, or "
    "beyond the longest window).",
    ["outcome"],
)
PUSH_SECONDS = Histogram(
    "driftloop_stream_push_seconds",
    "Seconds one Feast push of a view's changed rows takes.",
    ["view"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
PUBLISH_FAILURES = Counter(
    "driftloop_stream_publish_failures_total", "Publishes to the stream that failed (the records wait and retry)."
)
PUBLISH_DROPPED = Counter(
    "driftloop_stream_publish_dropped_total",
    "Records a publisher dropped because the stream failed for longer than its waiting room holds (the event "
    "store keeps them and the replay has them; the online rows miss them while they are inside a window).",
)
