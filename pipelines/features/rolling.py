"""Rolling features on an hourly grid, point-in-time correct by construction: the library use cases build on.

A feature row stamped at hour boundary H summarises the events in [H - window, H): strictly before H, so
Feast's point-in-time join (latest row stamped at or before an event) never hands an event a value that saw
the event itself or anything later. A label counts from the first boundary after it arrived. Rows are written
only where a value changes (an event enters or leaves a window, a label arrives), which keeps the tables small
without losing any state.

The computation is a dense entity x hour matrix: per-hour buckets, cumulative sums for counts and sums,
a sliding maximum, and +1/-1 interval deltas for distinct counts and known labels.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from pipelines.data.schema import UNTIL

HOUR_NS = 3_600 * 10**9
H_1, H_24, D_7, D_30 = 1, 24, 7 * 24, 30 * 24


class Grid:
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


def bucketed(grid: Grid, entity: np.ndarray, buckets: np.ndarray, values: np.ndarray, entities: int) -> np.ndarray:
    """The entity x hour matrix of `values` summed per bucket."""
    matrix = grid.matrix(entities)
    np.add.at(matrix, (entity, buckets), values)
    return matrix


def window_sum(buckets: np.ndarray, hours: int) -> np.ndarray:
    """Value at boundary k = sum of buckets k-hours .. k-1."""
    cumulative = np.concatenate([np.zeros((buckets.shape[0], 1)), np.cumsum(buckets, axis=1)], axis=1)[:, :-1]
    lagged = np.concatenate([np.zeros((buckets.shape[0], hours)), cumulative], axis=1)[:, : cumulative.shape[1]]
    # Rounded to 1e-6: a cumulative difference leaves float noise (1e-13 for an emptied window).
    return np.round(cumulative - lagged, 6)


def window_max(bucket_max: np.ndarray, hours: int) -> np.ndarray:
    """Value at boundary k = max of buckets k-hours .. k-1 (0 when empty)."""
    padded = np.concatenate([np.zeros((bucket_max.shape[0], hours)), bucket_max[:, :-1]], axis=1)
    return sliding_window_view(padded, hours, axis=1).max(axis=2)


def active_intervals(
    grid: Grid,
    entity: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    entities: int,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """At each boundary, the count (or the sum of `weights`) of the items active for boundaries first..last
    (inclusive): how known labels enter and leave a window."""
    weights = np.ones(len(entity)) if weights is None else np.asarray(weights, dtype=np.float64)
    delta = grid.matrix(entities)
    limit = delta.shape[1] - 1
    keep = (first <= last) & (first <= limit)
    np.add.at(delta, (entity[keep], first[keep]), weights[keep])
    ends = last[keep] + 1
    inside = ends <= limit
    np.add.at(delta, (entity[keep][inside], ends[inside]), -weights[keep][inside])
    return np.round(np.cumsum(delta, axis=1), 6)


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (an empty window)."""
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)


def changed_rows(
    grid: Grid,
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


def known_labels(
    grid: Grid,
    entity: np.ndarray,
    buckets: np.ndarray,
    event_ids: np.ndarray,
    spans: pd.DataFrame,
    value: str,
    window_hours: int,
    entities: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(count, sum of `value`) at each boundary over the labels known then for the events of the last
    `window_hours`.

    `spans` are label spans (event id, the label, `label_timestamp` known from, UNTIL superseded at, NaT while
    it holds), with any column to sum (`value`: the label itself, or an event's column joined to its spans).
    A label counts from the first boundary after both its event and its arrival, stops at the boundary where a
    later label superseded it, and leaves the window with its event: the mean a served event sees is what was
    known before it."""
    events = pd.DataFrame({EVENT_ID: event_ids, "e": entity, "b": buckets})
    known = events.merge(spans[[EVENT_ID, value, LABEL_TIMESTAMP, UNTIL]], on=EVENT_ID, how="inner")
    arrived = grid.bucket(known[LABEL_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    first = np.maximum(known["b"].to_numpy(), arrived) + 1
    last = known["b"].to_numpy() + window_hours
    superseded = known[UNTIL].notna().to_numpy()
    until = known.loc[superseded, UNTIL].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    last[superseded] = np.minimum(last[superseded], grid.bucket(until))
    holders = known["e"].to_numpy()
    count = active_intervals(grid, holders, first, last, entities)
    total = active_intervals(grid, holders, first, last, entities, weights=known[value].to_numpy(np.float64))
    return count, total
