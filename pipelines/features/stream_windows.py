"""Sliding windows over one entity's events: the one definition of a streamed view, online and offline.

The stream worker folds each event it reads into its entity's `EntityWindows` and pushes the row; the replay
(`replay_rows`, a streamed view's `compute`) folds the event store's events into the same class and writes a
row after each instant. Both therefore hold the same numbers: counts and distinct counts are integers, sums are
kept in integer millionths (exact whatever the order events came in, so a redelivered, late or replayed event
cannot leave a rounding trace), times are whole microseconds (as events travel between servers).

A row describes the entity as of its latest event `T` (windows `(T - w, T]`) and is stamped `T + 1 us`: like
every feature row of the platform it summarises only events strictly before its stamp, so Feast's point-in-time
join hands a training event the row the online store held just before that event was answered.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.core.use_case import (
    CREATED_TIMESTAMP,
    EVENT_ID,
    EVENT_TIMESTAMP,
    Aggregate,
    Feature,
    FeatureView,
    ViewInputs,
)

if TYPE_CHECKING:
    import pandas as pd

SUM_SCALE = 1_000_000  # sums are kept in millionths of the field's unit: integers, exact in any order
STAMP_AFTER_US = 1  # a row is stamped one microsecond after the latest event it summarises


def to_micros(value: float) -> int:
    """A summed value in the integer millionths the windows keep."""
    return round(value * SUM_SCALE)


@dataclass(frozen=True)
class WindowPlan:
    """What one streamed view keeps per entity: its aggregates in feature order, the columns they read."""

    names: tuple[str, ...]
    aggregates: tuple[Aggregate, ...]
    columns: tuple[str, ...]  # the event columns the aggregates read, in one order (values travel as a tuple)
    horizon_us: int  # the longest window: older events cannot change the row any more
    summed: frozenset[str]  # the columns kept as integer millionths

    @classmethod
    def of(cls, view: FeatureView) -> WindowPlan:
        return cls.of_features(view.name, view.features)

    @classmethod
    def of_features(cls, view: str, features: Sequence[Feature]) -> WindowPlan:
        aggregates = tuple(feature.aggregate for feature in features if feature.aggregate is not None)
        if len(aggregates) != len(features):
            raise ValueError(f"feature view {view!r} is not streamed: its features need aggregates")
        columns = tuple(dict.fromkeys(a.column for a in aggregates if a.column is not None))
        horizon = max(_micros(a.window) for a in aggregates)
        summed = frozenset(a.column for a in aggregates if a.kind == "sum" and a.column is not None)
        return cls(tuple(f.name for f in features), aggregates, columns, horizon, summed)

    def event_values(self, event: dict[str, Any]) -> tuple[Any, ...]:
        """An event's values of the plan's columns, summed ones as integer millionths."""
        return tuple(to_micros(float(event[c])) if c in self.summed else event[c] for c in self.columns)


def _micros(window: timedelta) -> int:
    return int(window / timedelta(microseconds=1))


class _Runner:
    """The running totals of one window length: where it starts in the entity's events and what it holds."""

    __slots__ = ("width", "start", "count", "sums", "seen")

    def __init__(self, width: int, sums: Sequence[int], distincts: Sequence[int]) -> None:
        self.width = width
        self.start = 0  # absolute index of the first event inside the window
        self.count = 0
        self.sums = dict.fromkeys(sums, 0)  # column position -> integer millionths
        self.seen: dict[int, Counter[Any]] = {position: Counter() for position in distincts}

    def enter(self, values: tuple[Any, ...]) -> None:
        self.count += 1
        for position in self.sums:
            self.sums[position] += values[position]
        for position, counter in self.seen.items():
            counter[values[position]] += 1

    def leave(self, values: tuple[Any, ...]) -> None:
        self.count -= 1
        for position in self.sums:
            self.sums[position] -= values[position]
        for position, counter in self.seen.items():
            value = values[position]
            counter[value] -= 1
            if not counter[value]:
                del counter[value]


class EntityWindows:
    """One entity's events inside the plan's horizon, with each window's totals kept as events come.

    In-order events cost O(1) amortised; an event older than the latest (a late landing, a redelivery after a
    restart) is put in its place and the totals rebuilt. An event seen before, or older than the horizon behind
    the latest, changes nothing: folding is idempotent."""

    __slots__ = ("plan", "events", "ids", "base", "runners", "_slots")

    def __init__(self, plan: WindowPlan) -> None:
        self.plan = plan
        self.events: deque[tuple[int, str, tuple[Any, ...]]] = deque()  # (time_us, event_id, values), sorted
        self.ids: set[str] = set()
        self.base = 0  # absolute index of events[0]
        widths = sorted({_micros(a.window) for a in plan.aggregates})
        position = {column: index for index, column in enumerate(plan.columns)}
        self.runners: dict[int, _Runner] = {}
        for width in widths:
            mine = [a for a in plan.aggregates if _micros(a.window) == width]
            sums = [position[a.column] for a in mine if a.kind == "sum" and a.column is not None]
            distincts = [position[a.column] for a in mine if a.kind == "distinct" and a.column is not None]
            self.runners[width] = _Runner(width, sums, distincts)
        self._slots = [
            (a.kind, _micros(a.window), position.get(a.column, -1) if a.column is not None else -1)
            for a in plan.aggregates
        ]

    @property
    def latest(self) -> int | None:
        """The latest event's time (microseconds), None before the first."""
        return self.events[-1][0] if self.events else None

    def add(self, time_us: int, event_id: str, values: tuple[Any, ...]) -> bool:
        """Fold one event in; False when it changes nothing (seen already, or beyond the horizon)."""
        latest = self.latest
        if event_id in self.ids or (latest is not None and time_us <= latest - self.plan.horizon_us):
            return False
        self.ids.add(event_id)
        item = (time_us, event_id, values)
        if latest is None or (time_us, event_id) >= self.events[-1][:2]:
            self.events.append(item)
            for runner in self.runners.values():
                runner.enter(values)
            self._advance()
        else:
            ordered = list(self.events)
            bisect.insort(ordered, item)
            self.events = deque(ordered)
            self._rebuild()
        return True

    def _advance(self) -> None:
        """Move each window's start past the events that fell out of it, then forget those beyond the horizon."""
        latest = self.events[-1][0]
        for width, runner in self.runners.items():
            while self.events[runner.start - self.base][0] <= latest - width:
                runner.leave(self.events[runner.start - self.base][2])
                runner.start += 1
        horizon = latest - self.plan.horizon_us
        while self.events[0][0] <= horizon:
            _, event_id, _ = self.events.popleft()
            self.ids.discard(event_id)
            self.base += 1

    def _rebuild(self) -> None:
        widths = list(self.runners)
        plan_runners = {}
        for width in widths:
            old = self.runners[width]
            fresh = _Runner(width, list(old.sums), list(old.seen))
            fresh.start = self.base
            for _, _, values in self.events:
                fresh.enter(values)
            plan_runners[width] = fresh
        self.runners = plan_runners
        self._advance()

    def values(self) -> tuple[int | float, ...]:
        """Every feature as of the latest event, in the plan's order."""
        if not self.events:
            raise ValueError("no event folded in yet")
        latest = self.events[-1][0]
        out: list[int | float] = []
        for kind, width, position in self._slots:
            runner = self.runners[width]
            if kind == "count":
                out.append(runner.count)
            elif kind == "sum":
                out.append(runner.sums[position] / SUM_SCALE)
            elif kind == "distinct":
                out.append(len(runner.seen[position]))
            else:  # gap: to the event before the latest, if it lies inside the window
                previous = self.events[-2][0] if len(self.events) > 1 else None
                inside = previous is not None and previous > latest - width
                out.append((latest - previous) / 1e6 if inside and previous is not None else width / 1e6)
        return tuple(out)

    @property
    def stamp_us(self) -> int:
        """The row's stamp: one microsecond after the latest event (it summarises events strictly before it)."""
        latest = self.latest
        if latest is None:
            raise ValueError("no event folded in yet")
        return latest + STAMP_AFTER_US


def event_micros(times: pd.Series) -> np.ndarray:
    """Event times as integer microseconds since the epoch (UTC), truncated as events travel."""
    return times.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1000


def fold_rows(
    plan: WindowPlan, keys: np.ndarray, times_us: np.ndarray, ids: np.ndarray, columns: Sequence[np.ndarray]
) -> Iterable[tuple[int, int, tuple[int | float, ...]]]:
    """(entity, stamp_us, values) after each instant of each entity, events folded in (time, id) order."""
    order = np.lexsort((ids, times_us, keys))
    prepared = [
        [to_micros(v) for v in column[order].tolist()] if name in plan.summed else column[order].tolist()
        for name, column in zip(plan.columns, columns, strict=True)
    ]
    values_sorted = list(zip(*prepared, strict=True)) if prepared else [()] * len(order)
    keys_sorted, times_sorted, ids_sorted = keys[order].tolist(), times_us[order].tolist(), ids[order].tolist()
    windows = EntityWindows(plan)
    for index, entity in enumerate(keys_sorted):
        if index and entity != keys_sorted[index - 1]:
            windows = EntityWindows(plan)
        windows.add(times_sorted[index], ids_sorted[index], values_sorted[index])
        last_of_instant = (
            index + 1 == len(keys_sorted)
            or keys_sorted[index + 1] != entity
            or times_sorted[index + 1] != times_sorted[index]
        )
        if last_of_instant:
            yield entity, windows.stamp_us, windows.values()


def replay_frame(plan: WindowPlan, features: Sequence[Feature], key: str, events: pd.DataFrame) -> pd.DataFrame:
    """Every row the stream worker would push for these events: key, event_timestamp (the stamp), features."""
    import pandas as pd

    rows = list(
        fold_rows(
            plan,
            events[key].to_numpy(np.int64),
            event_micros(events[EVENT_TIMESTAMP]),
            events[EVENT_ID].astype(str).to_numpy(object),
            [events[column].to_numpy() for column in plan.columns],
        )
    )
    stamps = np.array([row[1] for row in rows], dtype=np.int64) * 1000
    frame = pd.DataFrame(
        {
            key: pd.Series([row[0] for row in rows], dtype="int64"),
            EVENT_TIMESTAMP: pd.to_datetime(stamps, utc=True).as_unit("ns"),
        }
    )
    for index, feature in enumerate(features):
        frame[feature.name] = pd.Series([row[2][index] for row in rows], dtype=feature.dtype)
    return frame


@dataclass(frozen=True)
class ReplayCompute:
    """A streamed view's `compute`: the replayed rows stamped in [start, end] (the refresh's window). A plain
    frozen dataclass, so Ray ships it to workers with the view."""

    plan: WindowPlan
    features: tuple[Feature, ...]
    key: str

    def __call__(self, inputs: ViewInputs) -> pd.DataFrame:
        import pandas as pd

        start, end = pd.Timestamp(inputs.start), pd.Timestamp(inputs.end)
        rows = replay_frame(self.plan, self.features, self.key, self.events_for(inputs.events, start))
        rows = rows[(rows[EVENT_TIMESTAMP] >= start) & (rows[EVENT_TIMESTAMP] <= end)].reset_index(drop=True)
        rows[CREATED_TIMESTAMP] = pd.Timestamp(inputs.computed_at).tz_convert("UTC").as_unit("ns")
        return rows

    def events_for(self, events: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
        """The events the rows stamped from `start` on can see: a row stamped T + 1 us summarises the events in
        (T - horizon, T], so older ones change none of them (a refresh's hour replayed 70,000 events, most of them
        days old). Exact while no event id repeats: the fold drops a repeated id while its first is still in the
        windows, however old; with a repeat, every event is replayed."""
        if events.empty or events[EVENT_ID].duplicated().any():
            return events
        first_us = int(start.value // 1000) - STAMP_AFTER_US - self.plan.horizon_us
        return events[event_micros(events[EVENT_TIMESTAMP]) > first_us]


def stream_view(
    name: str,
    entity: str,
    key: str,
    features: Sequence[tuple[str, Aggregate, str]],
    ttl: timedelta,
    description: str,
) -> FeatureView:
    """A streamed view from its (feature name, aggregate, description)s: its types, lookback (the longest
    window), the event columns it reads and its offline compute (the replay) all follow from the aggregates."""
    declared = tuple(Feature(n, aggregate.dtype, text, aggregate) for n, aggregate, text in features)
    columns = tuple(dict.fromkeys(a.column for _, a, _ in features if a.column is not None and a.column != key))
    lookback = max(aggregate.window for _, aggregate, _ in features)
    event_columns = (EVENT_ID, EVENT_TIMESTAMP, key, *columns)
    compute = ReplayCompute(WindowPlan.of_features(name, declared), declared, key)
    return FeatureView(name, entity, declared, ttl, lookback, event_columns, False, compute, description)
