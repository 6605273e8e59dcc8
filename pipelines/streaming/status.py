"""What `driftloop features status` and `driftloop features parity` report about the streamed views.

Status: each stream's backlog (records the worker has not acknowledged) and lag (seconds since the oldest of
them was appended), beside the hourly refresh's watermark. Parity: up to `sample` live online rows of each
streamed view held against the replay of the event store (`pipelines.streaming.parity`).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from pipelines.core.settings import Settings
from pipelines.core.use_case import load_use_case
from pipelines.data.event_store import event_store_for
from pipelines.features.refresh import current_watermark
from pipelines.features.store import open_feature_store
from pipelines.streaming.open_stream import open_stream
from pipelines.streaming.parity import ParityResult, compare_online_to_replay, online_rows
from pipelines.streaming.records import StreamRoutes
from pipelines.streaming.worker import GROUP


def feature_status(settings: Settings) -> dict[str, Any]:
    """The refresh's watermark and age, and every stream's backlog and lag."""
    watermark = current_watermark(settings)
    status: dict[str, Any] = {
        "refresh_watermark": watermark.isoformat() if watermark else None,
        "refresh_age_s": round((datetime.now(UTC) - watermark).total_seconds(), 1) if watermark else None,
    }
    routes = StreamRoutes.of(load_use_case(settings.use_case), settings.stream_partitions)
    if not routes.active:
        return status | {"streams": {}}
    backend = open_stream(settings)
    try:
        streams = routes.owned(0, 1)
        backlog = backend.backlog(GROUP, streams)
        now_us = time.time_ns() // 1000
        lags = {stream: backend.oldest_unacknowledged_us(GROUP, stream) for stream in streams}
    finally:
        backend.close()
    status["streams"] = {
        stream: {"backlog": backlog[stream], "lag_s": round((now_us - oldest) / 1e6, 3) if oldest else 0.0}
        for stream, oldest in lags.items()
    }
    status["stream_backlog"] = sum(backlog.values())
    status["stream_lag_s"] = max(entry["lag_s"] for entry in status["streams"].values())
    return status


def live_parity(settings: Settings, sample: int, seed: int = 0) -> list[ParityResult]:
    """Up to `sample` online rows per streamed view (entities drawn from the event store) against the replay."""
    use_case = load_use_case(settings.use_case)
    events = event_store_for(settings).events()
    store = open_feature_store(settings)
    results = []
    for view in (view for view in use_case.views if view.streamed):
        key = use_case.entity_of(view.entity).key
        entities = sorted(events[key].unique().tolist())
        chosen = random.Random(seed).sample(entities, min(sample, len(entities)))
        online = online_rows(store, use_case, view, chosen)
        results.append(compare_online_to_replay(use_case, view, online, events[events[key].isin(chosen)]))
    return results
