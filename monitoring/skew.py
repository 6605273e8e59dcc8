"""Training/serving skew: did the server score each transaction with the features training would have used?

For every served transaction whose hour the feature pipeline has finished (its hour boundary is at or
before the refresh watermark, so the offline rows for it are final), the feature vector the server used
(from the prediction log) is held against the offline point-in-time vector for the same event, joined as
the training set is (`DRIFTLOOP_TRAINING_SET_JOIN`: the as-of join of Feast's offline tables, or Feast's
historical retrieval). A missing value on either side counts as the documented default,
as serving and training both treat it. Any difference is skew: a stale online store, a lookup bug, a
feature computed two ways.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from monitoring.streamed_skew import Staleness, stale_rows, streamed_offline, streamed_views
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, UseCase

logger = logging.getLogger(__name__)

RELATIVE_TOLERANCE = 1e-6  # float32 storage on both sides; anything above is a real difference


@dataclass(frozen=True)
class SkewResult:
    """Served features against the offline store's for the same transactions: training/serving skew."""

    rows: int  # served transactions compared
    mismatched_rows: int
    pending: int  # served transactions whose hour is not final yet (compared by a later check)
    columns: dict[str, int] = field(default_factory=dict)  # column -> rows where it differs
    examples: list[str] = field(default_factory=list)  # a few event ids that differ
    stale: int = 0  # rows served from a streamed row the worker had not replaced yet (freshness, not skew)
    stale_behind_s: float = 0.0  # the longest such wait

    @property
    def share(self) -> float | None:
        return self.mismatched_rows / self.rows if self.rows else None


def differing(
    served: pd.DataFrame, offline: pd.DataFrame, feature_columns: Sequence[str], default: float
) -> pd.DataFrame:
    """Which served values differ from the offline ones, by event id and column; a missing value on either
    side is the model's feature default."""
    served = served.drop_duplicates(EVENT_ID).set_index(EVENT_ID)
    offline = offline.drop_duplicates(EVENT_ID).set_index(EVENT_ID).reindex(served.index)
    columns = list(feature_columns)
    left = served[columns].astype("float64").fillna(default).to_numpy()
    right = offline[columns].astype("float64").fillna(default).to_numpy()
    return pd.DataFrame(~np.isclose(left, right, rtol=RELATIVE_TOLERANCE, atol=1e-9), served.index, columns)


def compare_vectors(
    served: pd.DataFrame,
    offline: pd.DataFrame,
    feature_columns: Sequence[str],
    default: float,
    excused: frozenset[str] = frozenset(),
) -> SkewResult:
    """Served vs offline feature vectors, aligned by `event_id` (pure: the check's arithmetic); a missing value
    on either side is the model's feature default. Rows in `excused` (stale, not skewed) count as equal."""
    frame = differing(served, offline, feature_columns, default)
    frame.loc[frame.index.isin(list(excused))] = False
    per_row = frame.any(axis=1)
    per_column = {str(column): int(count) for column, count in frame.sum(axis=0).items() if count}
    return SkewResult(
        rows=len(frame), mismatched_rows=int(per_row.sum()), pending=0, columns=per_column,
        examples=[str(i) for i in frame.index[per_row.to_numpy()][:5]],
    )  # fmt: skip


def check_skew(
    offline_features: Callable[[pd.DataFrame], pd.DataFrame],
    served_rows: pd.DataFrame,
    watermark: datetime | None,
    use_case: UseCase,
    read_events: Callable[[pd.Timestamp], pd.DataFrame] | None = None,
) -> SkewResult:
    """Compare the served rows (prediction log rows with event ids and receipt times) whose hour is final with
    `offline_features(events)` (the events with their offline point-in-time features, as training joins them),
    asked only when there is something to compare. Streamed columns are held against the replay
    of the event store (`read_events(since)`), and a row served before the worker pushed is stale, not skewed
    (`monitoring.streamed_skew`)."""
    keys, features = list(use_case.entity_keys), use_case.feature_columns
    needed = {EVENT_ID, EVENT_TIMESTAMP, *keys, *features}
    if served_rows.empty or not needed <= set(served_rows.columns):
        return SkewResult(0, 0, 0)
    rows = served_rows[served_rows[EVENT_ID].notna() & served_rows[EVENT_TIMESTAMP].notna()]
    rows = rows[(rows[keys] >= 0).all(axis=1)]  # a row without entity ids (-1) is no event
    if watermark is None:
        return SkewResult(0, 0, len(rows))
    final = rows[rows[EVENT_TIMESTAMP].dt.floor("h") <= pd.Timestamp(watermark)]
    if final.empty:
        return SkewResult(0, 0, len(rows))
    events = final[[EVENT_ID, *keys, EVENT_TIMESTAMP]].drop_duplicates(EVENT_ID)
    offline = offline_features(events.astype(dict.fromkeys(keys, "int64")))
    offline = offline.reindex(columns=[*offline.columns, *(c for c in features if c not in offline.columns)])
    default = use_case.model.feature_default
    staleness = Staleness(frozenset(), 0.0)
    views = streamed_views(use_case)
    if views and read_events is not None:
        since = final[EVENT_TIMESTAMP].min() - max(view.ttl + view.lookback for view in views)
        history = read_events(pd.Timestamp(since))
        replayed = streamed_offline(use_case, events, history).set_index(EVENT_ID)
        streamed = [c for c in replayed.columns if c in features]
        offline = offline.set_index(EVENT_ID)
        offline[streamed] = replayed[streamed].reindex(offline.index)
        offline = offline.reset_index()
        frame = differing(final, offline, features, default)
        hourly = [c for c in features if c not in streamed]
        only_streamed = frame.index[frame[streamed].any(axis=1) & ~frame[hourly].any(axis=1)]
        staleness = stale_rows(use_case, final, history, [str(i) for i in only_streamed], default)
    result = compare_vectors(final, offline, features, default, staleness.stale)
    result = SkewResult(
        result.rows, result.mismatched_rows, len(rows) - len(final), result.columns, result.examples,
        len(staleness.stale), staleness.behind_s,
    )  # fmt: skip
    logger.info(
        "skew: %d of %d served transactions differ from offline point-in-time features (%s); %d pending; "
        "%d served before the stream worker caught up (up to %.1fs)",
        result.mismatched_rows, result.rows, result.columns or "no column", result.pending, result.stale,
        result.stale_behind_s,
    )  # fmt: skip
    return result
