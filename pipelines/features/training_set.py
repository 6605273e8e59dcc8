"""Build the training set through Feast: point-in-time correct by construction (the `pandas` engine's
build; `pipelines.features.training_partitions` does the same join per partition of the first entity for the
`ray` engine).

Each labelled event asks Feast for the feature values as of its own timestamp; Feast joins the latest
feature row stamped at or before it (within the view's ttl). Feature rows only summarise events strictly
before their stamp, so no row sees its own event or anything later.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, UseCase, feature_column

if TYPE_CHECKING:
    from feast import FeatureStore

logger = logging.getLogger(__name__)


def training_columns(use_case: UseCase) -> list[str]:
    """A training row's own columns, before its features: the event (id, entity keys, time, fields) and its
    label."""
    fields = [field.name for field in use_case.fields]
    return [EVENT_ID, *use_case.entity_keys, EVENT_TIMESTAMP, *fields, use_case.label.name]


Span = tuple[pd.Timestamp, pd.Timestamp]


def mature_span(oldest: pd.Timestamp, newest: pd.Timestamp, label_maturity_days: int, history: timedelta) -> Span:
    """[first, last] event timestamps a training row may have, given the window's oldest and newest events: not
    the first `history` (the views' longest ttl), whose features lack history (serving never sees such truncated
    windows), nor the newest days, whose labels are still incomplete."""
    return oldest + history, newest - timedelta(days=label_maturity_days)


def labelled_events(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    label_maturity_days: int,
    use_case: UseCase,
    span: Span | None = None,
) -> pd.DataFrame:
    """Events whose label has arrived, inside `span` (by default the `mature_span` of these events; a partition
    of a window passes the whole window's)."""
    stamps = events[EVENT_TIMESTAMP]
    first, last = span or mature_span(stamps.min(), stamps.max(), label_maturity_days, use_case.max_ttl)
    mature = events[(stamps <= last) & (stamps >= first)]
    label = use_case.label.name
    joined = mature.merge(labels[[EVENT_ID, label]], on=EVENT_ID, how="inner", validate="one_to_one")
    logger.debug("%d of %d events are labelled and mature", len(joined), len(events))
    return joined


def _view_features(store: FeatureStore, labelled: pd.DataFrame, key: str, refs: list[str]) -> pd.DataFrame:
    """One feature view's point-in-time values for each distinct (entity, timestamp) of `labelled`.

    Queried per view and merged back ourselves: Feast 0.67's file offline store drops an entity row
    (instead of returning nulls) when all of the entity's feature rows fall outside [ts - ttl, ts], and
    collapses rows sharing the join keys and timestamp. Here such a row simply gets no values (NaN).
    """
    keys = labelled[[key, EVENT_TIMESTAMP]].drop_duplicates(ignore_index=True)
    job = store.get_historical_features(entity_df=keys, features=refs, full_feature_names=True)
    found = job.to_df()
    found[EVENT_TIMESTAMP] = pd.to_datetime(found[EVENT_TIMESTAMP], utc=True).dt.as_unit("ns")
    columns = [c for c in found.columns if "__" in c]
    return keys.merge(found[[key, EVENT_TIMESTAMP, *columns]], on=[key, EVENT_TIMESTAMP], how="left", validate="1:1")


def as_of_join(rows: pd.DataFrame, table: pd.DataFrame, use_case: UseCase, view: str) -> pd.DataFrame:
    """`rows` with the view's features (`<view>__<feature>`) as of each row's timestamp: the entity's latest
    feature row stamped in [ts - ttl, ts] (the latest created among rows sharing a stamp), NaN when none is."""
    declared = use_case.view_of(view)
    key, names, ttl = use_case.key_of(view), [feature.name for feature in declared.features], declared.ttl
    latest = table.sort_values([key, EVENT_TIMESTAMP, CREATED_TIMESTAMP], kind="stable").drop_duplicates(
        [key, EVENT_TIMESTAMP], keep="last"
    )
    right = latest[[key, EVENT_TIMESTAMP, *names]].rename(columns={name: feature_column(view, name) for name in names})
    keys = rows[[key, EVENT_TIMESTAMP]].drop_duplicates().sort_values(EVENT_TIMESTAMP, kind="stable")
    found = pd.merge_asof(
        keys,
        right.sort_values(EVENT_TIMESTAMP, kind="stable"),
        on=EVENT_TIMESTAMP,
        by=key,
        direction="backward",
        tolerance=pd.Timedelta(ttl),
        allow_exact_matches=True,
    )
    return rows.merge(found, on=[key, EVENT_TIMESTAMP], how="left", validate="m:1")


def point_in_time_features(
    store: FeatureStore, rows: pd.DataFrame, use_case: UseCase, streamed: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """`rows` (entity keys, event_timestamp, ...) with every feature column as of its timestamp, through Feast's
    historical retrieval: what training sees and the skew check compares with when
    `DRIFTLOOP_TRAINING_SET_JOIN=feast` (the default as-of join gives the same values faster).

    A streamed view's table has a row per event, and Feast 0.67's file offline store joins each training row
    with every row of its entity before picking the latest (quadratic: it ran the demo's training step out of
    memory); its rows (`streamed`, each view's offline table) are joined here by the same rule with an as-of
    merge. Without them its columns are left out (the skew check replays the event store instead)."""
    frame = rows.copy()
    frame[EVENT_TIMESTAMP] = pd.to_datetime(frame[EVENT_TIMESTAMP], utc=True).dt.as_unit("ns")
    for view in use_case.views:
        if view.streamed:
            if streamed is not None:
                frame = as_of_join(frame, streamed[view.name], use_case, view.name)
            continue
        refs = [f"{view.name}:{feature.name}" for feature in view.features]
        key = use_case.key_of(view.name)
        frame = frame.merge(_view_features(store, frame, key, refs), on=[key, EVENT_TIMESTAMP], how="left")
    return frame


def feature_dtypes(use_case: UseCase) -> dict[str, str]:
    """Each feature column's type in a training set: a count with a missing value is a float."""
    return {
        feature_column(view.name, feature.name): "float32" if feature.dtype == "float32" else "float64"
        for view in use_case.views
        for feature in view.features
    }


def in_training_order(frame: pd.DataFrame, use_case: UseCase) -> pd.DataFrame:
    """One column order, one type per column whether or not a value is missing, one row order: what both
    engines write, so their training sets compare equal."""
    features = feature_dtypes(use_case)
    frame = frame[[*training_columns(use_case), *features]].astype(features)
    return frame.sort_values([EVENT_TIMESTAMP, EVENT_ID], kind="stable").reset_index(drop=True)


def build_training_set(
    store: FeatureStore, labelled: pd.DataFrame, use_case: UseCase, streamed: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Labelled events with their point-in-time feature values (through Feast; the streamed views' from their
    `streamed` tables), in a stable order."""
    rows = labelled[training_columns(use_case)]
    frame = in_training_order(point_in_time_features(store, rows, use_case, streamed), use_case)
    log_coverage(frame)
    return frame


def log_coverage(frame: pd.DataFrame) -> None:
    missing = frame[[c for c in frame.columns if "__" in c]].isna().all(axis=1).mean()
    logger.info("training set: %d rows, %.1f%% without any feature value", len(frame), 100 * missing)
