"""The delivery use case's feature views, on the platform's hourly grid (`pipelines.features.rolling`).

restaurant_load: how busy a kitchen is (orders in the last hour and day, its baskets) and how fast it has been
(the mean of the delivery minutes known over 7 days). zone_traffic: how busy and how far a drop-off zone is,
and how slow its rides have been (minutes and minutes per km known over 24 hours). Label-derived features
count a delivery's minutes only from the hour after its courier's app synced them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, ViewInputs
from pipelines.features.rolling import (
    D_7,
    H_1,
    H_24,
    Grid,
    bucketed,
    changed_rows,
    known_labels,
    safe_ratio,
    window_sum,
)
from use_cases.delivery.generator import BASKET_ITEMS, DELIVERY_MINUTES, DISTANCE_KM, RESTAURANT_ID, ZONE_ID

RESTAURANT_LOAD = "restaurant_load"
ZONE_TRAFFIC = "zone_traffic"
RESTAURANT_EVENT_COLUMNS = (RESTAURANT_ID, BASKET_ITEMS, EVENT_TIMESTAMP, EVENT_ID)
ZONE_EVENT_COLUMNS = (ZONE_ID, DISTANCE_KM, EVENT_TIMESTAMP, EVENT_ID)


def _spans(inputs: ViewInputs) -> pd.DataFrame:
    if inputs.label_spans is None:
        raise ValueError("a delivery view needs the label spans of its events")
    return inputs.label_spans


def _grid(inputs: ViewInputs, key: str) -> tuple[Grid, np.ndarray, np.ndarray, np.ndarray]:
    """The hourly grid of the events, each event's entity code and hour bucket, and the entity ids."""
    times = inputs.events[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    grid = Grid(times, inputs.end)
    entity, entity_ids = pd.factorize(inputs.events[key].to_numpy(), sort=True)
    return grid, entity, grid.bucket(times), np.asarray(entity_ids)


def compute_restaurant_load(inputs: ViewInputs) -> pd.DataFrame:
    """restaurant_load rows stamped in [start, end]."""
    events = inputs.events
    grid, entity, buckets, ids = _grid(inputs, RESTAURANT_ID)
    n = len(ids)
    count = bucketed(grid, entity, buckets, np.ones(len(events)), n)
    baskets = bucketed(grid, entity, buckets, events[BASKET_ITEMS].to_numpy(np.float64), n)
    known, minutes = known_labels(
        grid, entity, buckets, events[EVENT_ID].to_numpy(), _spans(inputs), DELIVERY_MINUTES, D_7, n
    )
    orders_24h = window_sum(count, H_24)
    features = {
        "orders_1h": (window_sum(count, H_1), "int64"),
        "orders_24h": (orders_24h, "int64"),
        "basket_mean_24h": (safe_ratio(window_sum(baskets, H_24), orders_24h), "float32"),
        "delivery_minutes_mean_7d": (safe_ratio(minutes, known), "float32"),
    }
    return changed_rows(grid, ids, RESTAURANT_ID, features, inputs.start, inputs.end, inputs.computed_at)


def compute_zone_traffic(inputs: ViewInputs) -> pd.DataFrame:
    """zone_traffic rows stamped in [start, end]."""
    events = inputs.events
    grid, entity, buckets, ids = _grid(inputs, ZONE_ID)
    n = len(ids)
    count = bucketed(grid, entity, buckets, np.ones(len(events)), n)
    distance = bucketed(grid, entity, buckets, events[DISTANCE_KM].to_numpy(np.float64), n)
    spans = _spans(inputs)
    event_ids = events[EVENT_ID].to_numpy()
    known, minutes = known_labels(grid, entity, buckets, event_ids, spans, DELIVERY_MINUTES, H_24, n)
    # The kilometres of the deliveries whose minutes are known, over the same window: minutes per km.
    distances = pd.DataFrame({EVENT_ID: event_ids, DISTANCE_KM: events[DISTANCE_KM].to_numpy(np.float64)})
    with_km = spans.merge(distances, on=EVENT_ID, how="inner")
    _, kilometres = known_labels(grid, entity, buckets, event_ids, with_km, DISTANCE_KM, H_24, n)
    features = {
        "orders_1h": (window_sum(count, H_1), "int64"),
        "distance_mean_24h": (safe_ratio(window_sum(distance, H_24), window_sum(count, H_24)), "float32"),
        "delivery_minutes_mean_24h": (safe_ratio(minutes, known), "float32"),
        "minutes_per_km_24h": (safe_ratio(minutes, kilometres), "float32"),
    }
    return changed_rows(grid, ids, ZONE_ID, features, inputs.start, inputs.end, inputs.computed_at)
