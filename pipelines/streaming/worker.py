"""The stream worker: folds each record of its partitions into its entity's windows and pushes the entity's new
row through the view's Feast push source, then acknowledges.

At least once, exactly once in effect: a record is acknowledged only after its rows are in the online store, and
folding is idempotent (an event id seen before changes nothing), so a record read twice (a redelivery, a restart)
counts once. A (re)started worker rebuilds its windows from everything its streams retain (the retention covers
the longest window) and pushes every entity it touched, then reads on from the end of what it rebuilt: a kill at
any point leaves no gap and no double count.

Rows are pushed a batch at a time: one Feast push per view for every entity a read changed, each entity's row as
of its latest event (`pipelines.features.stream_windows`); then the whole read is acknowledged in one write (on
the SQLite log, one fsync for a batch that spans every stream, not one per stream: the model servers' appends
wait behind each of them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, FeatureView, UseCase
from pipelines.features.stream_windows import EntityWindows, WindowPlan
from pipelines.streaming import metrics
from pipelines.streaming.backend import Record, StreamBackend
from pipelines.streaming.records import ANSWERED_US, TIME_US, StreamRoutes, decode

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

GROUP = "stream-worker"  # the consumer group every worker reads in (each owns its partitions' streams)
BACKLOG_EVERY_S = 5.0
TRIM_EVERY_S = 60.0

Push = Callable[[FeatureView, "pd.DataFrame"], None]  # writes a view's rows into the online store


@dataclass(frozen=True)
class _Streamed:
    """A streamed view, how it folds, and its key column."""

    view: FeatureView
    plan: WindowPlan
    key: str


class StreamWorker:
    """Keeps the streamed views of the entities on its streams (see the module)."""

    def __init__(
        self,
        use_case: UseCase,
        backend: StreamBackend,
        routes: StreamRoutes,
        streams: Sequence[str],
        push: Push,
        read_batch: int = 500,
        block_s: float = 0.05,
        retention_s: float = 7200.0,
    ) -> None:
        self.backend = backend
        self.routes = routes
        self.streams = list(streams)
        self.push = push
        self.read_batch = read_batch
        self.block_s = block_s
        self.retention_s = retention_s
        self.by_entity: dict[str, list[_Streamed]] = defaultdict(list)
        for view in use_case.views:
            if view.streamed:
                key = use_case.entity_of(view.entity).key
                self.by_entity[view.entity].append(_Streamed(view, WindowPlan.of(view), key))
        self.views = [streamed.view for views in self.by_entity.values() for streamed in views]
        self.windows: dict[tuple[str, int], EntityWindows] = {}
        self._checked_backlog = self._trimmed = 0.0

    # Folding -------------------------------------------------------------------------------------------------

    def _fold(self, records: Iterable[Record]) -> tuple[dict[str, set[int]], dict[str, list[int]]]:
        """Fold records in; returns the keys each view changed and the answer times of served events per view."""
        touched: dict[str, set[int]] = defaultdict(set)
        answered: dict[str, list[int]] = defaultdict(list)
        for record in records:
            event = decode(record.payload)
            for streamed in self.by_entity.get(self.routes.entity_of(record.stream), ()):
                key = int(event[streamed.key])
                windows = self.windows.get((streamed.view.name, key))
                if windows is None:
                    windows = self.windows[(streamed.view.name, key)] = EntityWindows(streamed.plan)
                if windows.add(int(event[TIME_US]), str(event[EVENT_ID]), streamed.plan.event_values(event)):
                    touched[streamed.view.name].add(key)
                    metrics.STREAM_RECORDS.labels("folded").inc()
                else:
                    metrics.STREAM_RECORDS.labels("unchanged").inc()
                if event.get(ANSWERED_US) is not None:
                    answered[streamed.view.name].append(int(event[ANSWERED_US]))
        return touched, answered

    def _push(self, touched: dict[str, set[int]], answered: dict[str, list[int]]) -> None:
        for streamed in (s for views in self.by_entity.values() for s in views):
            keys = touched.get(streamed.view.name)
            if keys:
                started = time.perf_counter()
                self.push(streamed.view, self.rows(streamed, sorted(keys)))
                metrics.PUSH_SECONDS.labels(streamed.view.name).observe(time.perf_counter() - started)
            done_us = time.time_ns() // 1000
            histogram = metrics.FRESHNESS.labels(streamed.view.name)
            for answered_us in answered.get(streamed.view.name, ()):
                histogram.observe(max(0.0, (done_us - answered_us) / 1e6))

    def rows(self, streamed: _Streamed, keys: Sequence[int]) -> pd.DataFrame:
        """The view's rows for these keys as the worker holds them now (what it pushes)."""
        import pandas as pd

        held = [self.windows[(streamed.view.name, key)] for key in keys]
        stamps = np.array([windows.stamp_us for windows in held], dtype=np.int64) * 1000
        values = [windows.values() for windows in held]
        frame = pd.DataFrame(
            {
                streamed.key: np.asarray(keys, dtype=np.int64),
                EVENT_TIMESTAMP: pd.to_datetime(stamps, utc=True).as_unit("ns"),
            }
        )
        for index, feature in enumerate(streamed.view.features):
            frame[feature.name] = pd.Series([row[index] for row in values], dtype=feature.dtype)
        frame[CREATED_TIMESTAMP] = pd.Timestamp.now(tz="UTC").as_unit("ns")
        return frame

    # The loop ------------------------------------------------------------------------------------------------

    def rebuild(self) -> int:
        """Fold everything the streams retain, push every entity touched, and read on after it; returns the
        records folded."""
        folded = 0
        for stream in self.streams:
            records = self.backend.retained(stream)
            touched, _ = self._fold(records)
            self._push(touched, {})
            self.backend.resume_after(GROUP, stream, records[-1].position if records else None)
            folded += len(records)
        logger.info("stream worker rebuilt %d entities' windows from %d retained records", len(self.windows), folded)
        return folded

    def step(self) -> int:
        """Read, fold, push, acknowledge one batch; returns the records read (0 when none came in time)."""
        records = self.backend.read(GROUP, self.streams, self.read_batch, self.block_s)
        if records:
            self._push(*self._fold(records))
            last: dict[str, str] = {}
            for record in records:
                last[record.stream] = record.position
            self.backend.acknowledge_many(GROUP, last)  # one write for the batch, after its pushes
        self._housekeeping()
        return len(records)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._checked_backlog >= BACKLOG_EVERY_S:
            self._checked_backlog = now
            for stream, count in self.backend.backlog(GROUP, self.streams).items():
                metrics.STREAM_BACKLOG.labels(stream).set(count)
        if now - self._trimmed >= TRIM_EVERY_S:
            self._trimmed = now
            dropped = self.backend.trim(self.streams, time.time_ns() // 1000 - int(self.retention_s * 1e6))
            if dropped:
                logger.info("stream: %d records past the retention dropped", dropped)

    def run(self, stop: threading.Event) -> None:
        """Rebuild, then read until `stop` is set."""
        self.rebuild()
        while not stop.is_set():
            try:
                self.step()
            except Exception:  # noqa: BLE001 - a failing store or stream: nothing unpushed was acknowledged
                logger.exception("stream worker: a batch failed; rebuilding after a pause")
                stop.wait(1.0)
                self.windows.clear()  # what was folded but not pushed must be pushed again: start over
                self.rebuild()
