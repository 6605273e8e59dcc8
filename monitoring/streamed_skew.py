"""The skew check's streamed columns: what training would use for a served event, and whether a difference is a
different computation (skew) or a row the worker had not pushed yet when the event was served (staleness).

Training joins a streamed view's replayed rows at or before an event's time (stamped a microsecond after what
they summarise: strictly before the event); the offline table holds them only up to the refresh's watermark,
so the check replays the event store itself (`pipelines.features.stream_windows`). A served vector that differs
but equals an earlier replayed row of the same entity was served from a row the stream worker had not replaced
yet: the freshness objective's business (`driftloop_stream_freshness_seconds`), counted as stale with how far
behind it was, not as skew.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, FeatureView, UseCase, feature_column
from pipelines.features.stream_windows import WindowPlan, replay_frame

TOLERANCE = 1e-9


def streamed_views(use_case: UseCase) -> list[FeatureView]:
    return [view for view in use_case.views if view.streamed]


def _replayed(use_case: UseCase, view: FeatureView, events: pd.DataFrame, entities: pd.Series) -> pd.DataFrame:
    """The view's replayed rows for these entities, feature columns named as in the model input."""
    key = use_case.entity_of(view.entity).key
    mine = events[events[key].isin(entities)]
    rows = replay_frame(WindowPlan.of(view), view.features, key, mine)
    return rows.rename(columns={f.name: feature_column(view.name, f.name) for f in view.features})


def streamed_offline(use_case: UseCase, rows: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """`rows` (event id, entity keys, time) with every streamed column as training would join it."""
    out = rows[[EVENT_ID, *use_case.entity_keys, EVENT_TIMESTAMP]].copy()
    out[EVENT_TIMESTAMP] = pd.to_datetime(out[EVENT_TIMESTAMP], utc=True).dt.as_unit("ns")
    for view in streamed_views(use_case):
        key = use_case.entity_of(view.entity).key
        replayed = _replayed(use_case, view, events, out[key]).sort_values(EVENT_TIMESTAMP, kind="stable")
        joined = pd.merge_asof(
            out.sort_values(EVENT_TIMESTAMP, kind="stable"),
            replayed,
            on=EVENT_TIMESTAMP,
            by=key,
            direction="backward",
            tolerance=pd.Timedelta(view.ttl),
        )
        columns = [feature_column(view.name, f.name) for f in view.features]
        out = out.merge(joined[[EVENT_ID, *columns]], on=EVENT_ID, how="left")
    return out


@dataclass(frozen=True)
class Staleness:
    """Served rows whose streamed difference is a row not pushed yet, and the longest such wait (seconds)."""

    stale: frozenset[str]  # event ids
    behind_s: float


def stale_rows(
    use_case: UseCase, served: pd.DataFrame, events: pd.DataFrame, candidates: Sequence[str], default: float
) -> Staleness:
    """Of the `candidates` (event ids whose vectors differ only in streamed columns), those served with an
    earlier replayed row of the entity (or with nothing yet, the defaults) for every view that differs."""
    stale: set[str] = set()
    behind = 0.0
    rows = served.drop_duplicates(EVENT_ID).set_index(EVENT_ID).loc[list(candidates)]
    if rows.empty:
        return Staleness(frozenset(), 0.0)
    views = streamed_views(use_case)
    keys = {view.name: use_case.entity_of(view.entity).key for view in views}
    replays = {view.name: _replayed(use_case, view, events, rows[keys[view.name]]) for view in views}
    # each view's replayed rows by entity: looked up per served row, not filtered out of the whole frame each time
    by_entity = {name: dict(tuple(replayed.groupby(keys[name]))) for name, replayed in replays.items()}
    for event_id, row in rows.iterrows():
        moment = pd.Timestamp(row[EVENT_TIMESTAMP])
        waits = []
        for view in views:
            columns = [feature_column(view.name, f.name) for f in view.features]
            served_values = np.nan_to_num(row[columns].to_numpy(dtype=np.float64), nan=default)
            earlier = by_entity[view.name].get(row[keys[view.name]], replays[view.name].iloc[:0])
            earlier = earlier[earlier[EVENT_TIMESTAMP] <= moment]
            latest = earlier[EVENT_TIMESTAMP].max() if len(earlier) else None
            # Every earlier row at once (`np.allclose` row by row was quadratic in Python: thousands of answers for
            # one card kept a check busy for minutes).
            close = np.isclose(served_values, earlier[columns].to_numpy(np.float64), rtol=TOLERANCE, atol=TOLERANCE)
            matches = [stamp for stamp, same in zip(earlier[EVENT_TIMESTAMP], close.all(axis=1), strict=True) if same]
            if (matches and matches[-1] == latest) or (latest is None and np.allclose(served_values, default)):
                continue  # this view agrees with training (no row yet: both use the defaults)
            if matches:
                waits.append((moment - matches[-1]).total_seconds())
            elif np.allclose(served_values, default) and len(earlier):
                waits.append((moment - earlier[EVENT_TIMESTAMP].min()).total_seconds())  # nothing pushed yet
            else:
                break  # a value no replayed row ever held: skew
        else:
            stale.add(str(event_id))
            behind = max([behind, *waits])
    return Staleness(frozenset(stale), behind)
