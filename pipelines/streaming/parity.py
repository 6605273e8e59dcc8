"""Online against offline for the streamed views: do the rows the worker pushed equal the replay of the events?

A sampled online row (an entity, its stamp `s`, its values) is held against the replay of that entity's events
stamped before `s` (`pipelines.features.stream_windows`): the replay must have a row stamped `s` with the same
values (counts exactly, sums within `TOLERANCE`). Feast's SQLite online store keeps whole seconds of a row's
stamp (Redis keeps nanoseconds): a stamp without a fraction is matched to the replay's last row within that
second (an earlier one there that matches means the worker was behind by less than a second).

An online row newer than anything the event store shows yet (the prediction log publishes by the minute) is
`pending`; one older than the replay's latest row for its entity is `behind` (the worker has not caught up:
freshness, not skew); anything else that differs is a mismatch: the two paths computed the feature
differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.core.use_case import EVENT_TIMESTAMP, FeatureView, UseCase, feature_column
from pipelines.features.stream_windows import WindowPlan, replay_frame

if TYPE_CHECKING:
    from feast import FeatureStore

TOLERANCE = 1e-9


def online_rows(store: FeatureStore, use_case: UseCase, view: FeatureView, keys: Sequence[int]) -> pd.DataFrame:
    """The online store's rows of a streamed view for these keys: key, event_timestamp (the row's stamp) and
    its features; an entity the store does not hold is left out."""
    key = use_case.entity_of(view.entity).key
    refs = [f"{view.name}:{feature.name}" for feature in view.features]
    response = store.get_online_features(
        features=refs, entity_rows={key: [int(k) for k in keys]}, full_feature_names=True
    )
    names = {name: index for index, name in enumerate(response.proto.metadata.feature_names.val)}
    results = response.proto.results
    frame = pd.DataFrame({key: np.asarray(keys, dtype=np.int64)})
    first = results[names[feature_column(view.name, view.features[0].name)]]
    stamps = [ts.seconds * 10**9 + ts.nanos for ts in first.event_timestamps]
    frame[EVENT_TIMESTAMP] = pd.to_datetime(np.asarray(stamps, dtype=np.int64), utc=True).as_unit("ns")
    present = np.ones(len(keys), dtype=bool)
    for feature in view.features:
        values = results[names[feature_column(view.name, feature.name)]].values
        column = []
        for index, value in enumerate(values):
            kind = value.WhichOneof("val")
            if kind in (None, "null_val"):
                present[index] = False
                column.append(np.nan)
            else:
                column.append(getattr(value, kind))
        frame[feature.name] = column
    return frame[present].reset_index(drop=True)


@dataclass
class ParityResult:
    """Sampled online rows against the replay: how many equal, differ, wait for the event store, or lag."""

    view: str
    sampled: int = 0
    equal: int = 0
    pending: int = 0  # stamped after the newest event the event store shows yet
    behind: int = 0  # equal, but the replay has newer rows for the entity: the worker had not caught up
    mismatched: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def compared(self) -> int:
        return self.equal + self.mismatched


def compare_online_to_replay(
    use_case: UseCase, view: FeatureView, online: pd.DataFrame, events: pd.DataFrame
) -> ParityResult:
    """Each online row against the replay of `events` (every event of these entities, landed or served)."""
    key = use_case.entity_of(view.entity).key
    result = ParityResult(view.name, sampled=len(online))
    mine = events[events[key].isin(online[key])]
    replayed = replay_frame(WindowPlan.of(view), view.features, key, mine) if len(mine) else None
    newest_event = events[EVENT_TIMESTAMP].max() if len(events) else None
    by_entity = dict(tuple(replayed.groupby(key))) if replayed is not None else {}
    names = [feature.name for feature in view.features]
    for row in online.itertuples(index=False):
        entity, stamp = int(getattr(row, key)), pd.Timestamp(getattr(row, EVENT_TIMESTAMP))
        whole_second = stamp == stamp.floor("s")
        if newest_event is None or stamp > newest_event + pd.Timedelta(seconds=1 if whole_second else 0):
            result.pending += 1
            continue
        rows = by_entity.get(entity)
        stamps = rows[EVENT_TIMESTAMP] if rows is not None else pd.Series(dtype="datetime64[ns, UTC]")
        if rows is not None:
            rows = rows[stamps.dt.floor("s") == stamp] if whole_second else rows[stamps == stamp]
        if rows is None or rows.empty:
            result.mismatched += 1
            _example(result, f"{key}={entity}: online row stamped {stamp} has no replayed row at that instant")
            continue
        values = np.array([float(getattr(row, name)) for name in names])
        matches = [_same(values, expected) for expected in rows[names].to_numpy(dtype=np.float64)]
        if matches[-1]:
            result.equal += 1
            latest = by_entity[entity][EVENT_TIMESTAMP].max()
            result.behind += int(rows[EVENT_TIMESTAMP].iloc[-1] < latest)
        elif any(matches):
            result.equal += 1
            result.behind += 1
        else:
            result.mismatched += 1
            differs = [n for n, a, b in zip(names, values, rows[names].iloc[-1], strict=True) if not _same(a, b)]
            _example(result, f"{key}={entity} at {stamp}: {', '.join(differs)} differ from the replay")
    return result


def _same(online: np.ndarray | float, replayed: np.ndarray | float) -> bool:
    return bool(np.all(np.isclose(online, replayed, rtol=TOLERANCE, atol=TOLERANCE)))


def _example(result: ParityResult, text: str, limit: int = 5) -> None:
    if len(result.examples) < limit:
        result.examples.append(text)
