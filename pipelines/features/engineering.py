"""Rolling per-customer and per-merchant features on an hourly grid, point-in-time correct by construction.

A feature row stamped at hour boundary H summarises the events in [H - window, H): strictly before H, so
Feast's point-in-time join (latest row stamped at or before a transaction) never hands a transaction a
value that saw the transaction itself or anything later. A label counts from the first boundary after
it arrived. Rows are written only where a value changes (an event enters or leaves a window, a label
arrives), which keeps the tables small without losing any state.

The computation is a dense entity x hour matrix: per-hour buckets, cumulative sums for counts and sums,
a sliding maximum, and +1/-1 interval deltas for distinct counts and known chargebacks.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pipelines.data.schema import (
    AMOUNT,
    CREATED_TIMESTAMP,
    CUSTOMER_ID,
    EVENT_ID,
    EVENT_TIMESTAMP,
    IS_FRAUD,
    LABEL_TIMESTAMP,
    MERCHANT_ID,
    UNTIL,
)

HOUR_NS = 3_600 * 10**9
H_1, H_24, D_7, D_30 = 1, 24, 7 * 24, 30 * 24


class _Grid:
    """Hour boundaries k = 0..K at origin + k hours; bucket b holds events in [origin + b h, origin + (b+1) h)."""

    def __init__(self, times_ns: np.ndarray, end: datetime) -> None:
        self.origin = (int(times_ns.min()) // HOUR_NS) * HOUR_NS
        end_ns = pd.Timestamp(end).value
        self.boundaries = max(
            int(-(-(end_ns - self.origin) // HOUR_NS)), int((times_ns.max() - self.origin) // HOUR_NS) + 1
        )

    def bucket(self, times_ns: np.ndarray) -> np.ndarray:
        return ((times_ns - self.origin) // HOUR_NS).astype(np.int64)

    def matrix(self, rows: int) -> np.ndarray:
        return np.zeros((rows, self.boundaries + 1), dtype=np.float64)

    def timestamps(self, k: np.ndarray) -> pd.DatetimeIndex:
        return pd.to_datetime(self.origin + k.astype(np.int64) * HOUR_NS, utc=True).as_unit("ns")


def _bucketed(grid: _Grid, entity: np.ndarray, buckets: np.ndarray, values: np.ndarray, entities: int) -> np.ndarray:
    matrix = grid.matrix(entities)
    np.add.at(matrix, (entity, buckets), values)
    return matrix


def _window_sum(buckets: np.ndarray, hours: int) -> np.ndarray:
    """Value at boundary k = sum of buckets k-hours .. k-1."""
    cumulative = np.concatenate([np.zeros((buckets.shape[0], 1)), np.cumsum(buckets, axis=1)], axis=1)[:, :-1]
    lagged = np.concatenate([np.zeros((buckets.shape[0], hours)), cumulative], axis=1)[:, : cumulative.shape[1]]
    # Rounded to 1e-6: a cumulative difference leaves float noise (1e-13 for an emptied window).
    return np.round(cumulative - lagged, 6)


def _window_max(bucket_max: np.ndarray, hours: int) -> np.ndarray:
    """Value at boundary k = max of buckets k-hours .. k-1 (0 when empty)."""
    padded = np.concatenate([np.zeros((bucket_max.shape[0], hours)), bucket_max[:, :-1]], axis=1)
    return sliding_window_view(padded, hours, axis=1).max(axis=2)


def _active_intervals(
    grid: _Grid, entity: np.ndarray, first: np.ndarray, last: np.ndarray, entities: int
) -> np.ndarray:
    """Count, at each boundary, the items active for boundaries first..last (inclusive)."""
    delta = grid.matrix(entities)
    limit = delta.shape[1] - 1
    keep = (first <= last) & (first <= limit)
    np.add.at(delta, (entity[keep], first[keep]), 1.0)
    ends = last[keep] + 1
    inside = ends <= limit
    np.add.at(delta, (entity[keep][inside], ends[inside]), -1.0)
    return np.cumsum(delta, axis=1)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def _changed_rows(
    grid: _Grid,
    entity_ids: np.ndarray,
    entity_column: str,
    features: dict[str, tuple[np.ndarray, str]],
    start: datetime,
    end: datetime,
    computed_at: datetime,
) -> pd.DataFrame:
    """Rows (entity, boundary) in [start, end] where any feature differs from the boundary before."""
    # Compare what will be stored (after the cast), so float noise never makes a "change".
    stacked = np.stack([values.astype(dtype).astype(np.float64) for values, dtype in features.values()])
    previous = np.concatenate([np.zeros(stacked.shape[:2] + (1,)), stacked[:, :, :-1]], axis=2)
    changed = (stacked != previous).any(axis=0)
    k = np.arange(stacked.shape[2])
    stamps_ns = grid.origin + k * HOUR_NS
    in_range = (stamps_ns >= pd.Timestamp(start).value) & (stamps_ns <= pd.Timestamp(end).value)
    rows, cols = np.nonzero(changed & in_range[None, :])
    frame = pd.DataFrame({entity_column: entity_ids[rows].astype(np.int64), EVENT_TIMESTAMP: grid.timestamps(cols)})
    for index, (name, (_, dtype)) in enumerate(features.items()):
        frame[name] = stacked[index, rows, cols].astype(dtype)
    frame[CREATED_TIMESTAMP] = pd.Timestamp(computed_at).tz_convert("UTC").as_unit("ns")
    return frame.sort_values([EVENT_TIMESTAMP, entity_column], kind="stable").reset_index(drop=True)


def compute_customer_stats(events: pd.DataFrame, start: datetime, end: datetime, computed_at: datetime) -> pd.DataFrame:
    """customer_stats rows stamped in [start, end] (see feature_repo/feature_views.py)."""
    times = events[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    grid = _Grid(times, end)
    entity, entity_ids = pd.factorize(events[CUSTOMER_ID].to_numpy(), sort=True)
    n = len(entity_ids)
    buckets = grid.bucket(times)
    amounts = events[AMOUNT].to_numpy(dtype=np.float64)
    count = _bucketed(grid, entity, buckets, np.ones(len(events)), n)
    total = _bucketed(grid, entity, buckets, amounts, n)
    largest = grid.matrix(n)
    np.maximum.at(largest, (entity, buckets), amounts)

    # distinct merchants over 7 days: an event counts until 7 days pass or the same merchant recurs.
    pairs = pd.DataFrame({"e": entity, "m": events[MERCHANT_ID].to_numpy(), "t": times, "b": buckets})
    pairs = pairs.sort_values(["e", "m", "t"], kind="stable")
    next_time = pairs.groupby(["e", "m"], sort=False)["t"].shift(-1)
    next_bucket = np.where(
        next_time.isna(), np.iinfo(np.int64).max, grid.bucket(next_time.fillna(0).to_numpy(np.int64))
    )
    first = pairs["b"].to_numpy() + 1
    last = np.minimum(pairs["b"].to_numpy() + D_7, next_bucket)
    distinct = _active_intervals(grid, pairs["e"].to_numpy(), first, last, n)

    count_7d = _window_sum(count, D_7)
    features = {
        "txn_count_1h": (_window_sum(count, H_1), "int64"),
        "txn_count_24h": (_window_sum(count, H_24), "int64"),
        "amount_sum_24h": (_window_sum(total, H_24), "float32"),
        "amount_mean_7d": (_safe_ratio(_window_sum(total, D_7), count_7d), "float32"),
        "amount_max_7d": (_window_max(largest, D_7), "float32"),
        "distinct_merchants_7d": (distinct, "int64"),
    }
    return _changed_rows(grid, np.asarray(entity_ids), CUSTOMER_ID, features, start, end, computed_at)


def compute_merchant_stats(
    events: pd.DataFrame, labels: pd.DataFrame, start: datetime, end: datetime, computed_at: datetime
) -> pd.DataFrame:
    """merchant_stats rows stamped in [start, end]; a fraud label counts once it has arrived, and until it was
    withdrawn when `labels` are fraud spans (with UNTIL)."""
    times = events[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    grid = _Grid(times, end)
    entity, entity_ids = pd.factorize(events[MERCHANT_ID].to_numpy(), sort=True)
    n = len(entity_ids)
    buckets = grid.bucket(times)
    count = _bucketed(grid, entity, buckets, np.ones(len(events)), n)
    total = _bucketed(grid, entity, buckets, events[AMOUNT].to_numpy(dtype=np.float64), n)

    spans = [EVENT_ID, LABEL_TIMESTAMP, *([UNTIL] if UNTIL in labels else [])]
    frauds = pd.DataFrame({EVENT_ID: events[EVENT_ID].to_numpy(), "e": entity, "b": buckets}).merge(
        labels.loc[labels[IS_FRAUD] == 1, spans], on=EVENT_ID, how="inner"
    )
    label_bucket = grid.bucket(frauds[LABEL_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    first = np.maximum(frauds["b"].to_numpy(), label_bucket) + 1
    last = frauds["b"].to_numpy() + D_30
    if UNTIL in frauds:  # a verdict withdrawn later stops counting from then on, never before (fraud_spans)
        withdrawn = frauds[UNTIL].notna().to_numpy()
        until = frauds.loc[withdrawn, UNTIL].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        last[withdrawn] = np.minimum(last[withdrawn], grid.bucket(until))
    known_chargebacks = _active_intervals(grid, frauds["e"].to_numpy(), first, last, n)

    features = {
        "txn_count_24h": (_window_sum(count, H_24), "int64"),
        "amount_mean_7d": (_safe_ratio(_window_sum(total, D_7), _window_sum(count, D_7)), "float32"),
        "chargeback_rate_30d": (_safe_ratio(known_chargebacks, _window_sum(count, D_30)), "float32"),
    }
    return _changed_rows(grid, np.asarray(entity_ids), MERCHANT_ID, features, start, end, computed_at)
