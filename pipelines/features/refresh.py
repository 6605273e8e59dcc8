"""Keep the feature tables and the online store fresh: recompute the hours since the watermark, materialise.

The watermark is the newest hour boundary whose features are final: a row stamped at hour H summarises
events strictly before H, so once H has passed (and the answers of that hour are in the event store) its
rows never change again, unless a late batch lands. Every part a landing wrote carries its record with the
oldest event and label it touched; the refresh reads the records of the parts it has not seen yet and
recomputes from the oldest such hour, so a backfill or a late chargeback reaches the features as well as the
new hours do, also when its landing was retried after a crash. Runs are serialised by a writer lock
(`pipelines.data.writer_lock`: the local scheduler, the cluster's CronJob, a training run and a person may all
start one). The state sits beside the offline tables, locally or on the object store. After a refresh, and
under its lock, the event store's small parts are compacted (`pipelines.data.compaction`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import pandas as pd

from pipelines.core.settings import Settings
from pipelines.core.use_case import UseCase
from pipelines.data.compaction import CompactionOutcome, compact_event_store
from pipelines.data.event_store import EventStore, event_store_for
from pipelines.data.schema import EVENT_TIMESTAMP
from pipelines.data.storage import Folder, feature_data_folder
from pipelines.data.writer_lock import writer_lock
from pipelines.features.compute_engine import ComputeEngine, open_engine
from pipelines.features.offline_store import build_offline_features, offline_table_paths
from pipelines.features.partitions import build_from_event_store
from pipelines.features.store import materialize_online

logger = logging.getLogger(__name__)

# Beyond the longest window any feature looks back over (the use case's `max_lookback`): the boundary before the
# first recomputed one, which decides whether that one changed, and an hour's slack.
LOOKBACK_MARGIN = timedelta(hours=2)


def lookback(use_case: UseCase) -> timedelta:
    """How far before the first recomputed hour a build reads events."""
    return use_case.max_lookback + LOOKBACK_MARGIN


STATE_FILE = "refresh_state.json"
LOCK_NAME = "refresh"


@dataclass
class RefreshState:
    """How far features are final and which landings were taken in: the refresh resumes from here."""

    watermark: str | None = None  # ISO hour boundary: features final up to here
    landings_seen: int = 0  # records of the legacy landings log already taken into account
    parts_seen: list[str] = field(default_factory=list)  # landed and label parts whose records were taken in

    @property
    def watermark_time(self) -> datetime | None:
        return datetime.fromisoformat(self.watermark) if self.watermark else None


@dataclass(frozen=True)
class RefreshOutcome:
    """What one refresh did, for its log line, its metrics and the CronJob's exit status."""

    watermark: str | None
    start: str | None
    events_read: int
    rows_written: dict[str, int] = field(default_factory=dict)
    freshness_s: float | None = None
    reason: str = ""
    compaction: dict[str, CompactionOutcome] = field(default_factory=dict)


def hour_floor(moment: datetime | pd.Timestamp) -> datetime:
    return pd.Timestamp(moment).tz_convert("UTC").floor("h").to_pydatetime()


class RefreshStateStore:
    """The refresh state, read and written under the refresh's lock so two refreshes never interleave."""

    def __init__(self, folder: Folder, lock: Callable[[], AbstractContextManager[None]]) -> None:
        self.folder = folder
        self.locked = lock

    def load(self) -> RefreshState:
        """The saved state; none yet, or unreadable (a person's edit gone wrong), is a first run: the refresh
        then recomputes from the oldest event, which is slow but right."""
        text = self.folder.read_text(STATE_FILE)
        if text is None:
            return RefreshState()
        try:
            return RefreshState(**json.loads(text))
        except (ValueError, TypeError) as error:
            logger.warning("%s is unreadable (%s): refreshing as on a first run", self.folder.uri(STATE_FILE), error)
            return RefreshState()

    def save(self, state: RefreshState) -> None:
        self.folder.write_text(STATE_FILE, json.dumps(asdict(state), indent=2))


def refresh_state_store(settings: Settings) -> RefreshStateStore:
    folder = feature_data_folder(settings)
    return RefreshStateStore(folder, lambda: writer_lock(settings, LOCK_NAME, folder))


def _recompute_from(store: EventStore, state: RefreshState) -> tuple[datetime | None, int, list[str]]:
    """The first hour to recompute (None: nothing new), the legacy log's records and the parts (see
    `EventStore.part_names`) that accounts for. Listed before any event is read: a part landing meanwhile is
    either read now and recomputed again next time, or taken in next time; never missed."""
    legacy = store.legacy_landings()
    names = store.part_names()
    seen = set(state.parts_seen)
    records = store.landing_records([name for name in names if name not in seen])
    landings = [*legacy[state.landings_seen :], *(record for record in records.values() if record is not None)]
    touched = [pd.Timestamp(moment) for landing in landings for moment in landing.touched]
    candidates = [hour_floor(moment) for moment in touched]
    if state.watermark_time is not None:
        candidates.append(state.watermark_time)
    elif not touched:
        oldest = store.events()[EVENT_TIMESTAMP].min()
        if pd.notna(oldest):
            candidates.append(hour_floor(oldest))
    return (min(candidates) if candidates else None), len(legacy), names


def build_features_from_store(
    settings: Settings, read_from: datetime, start: datetime, end: datetime, computed_at: datetime,
    engine: ComputeEngine,
) -> tuple[int, dict[str, int]]:  # fmt: skip
    """(events read, rows written per view) for the window [start, end], from the event store's events since
    `read_from`. The pandas engine reads them here and computes each view in one pass; another engine leaves
    reading, computing and writing to its partition tasks (`pipelines.features.partitions`). No events: nothing
    is written."""
    store = event_store_for(settings)
    if engine.name != "pandas":
        return build_from_event_store(
            store.root, store.prediction_log, store.use_case,
            offline_table_paths(feature_data_folder(settings), store.use_case),
            read_from, start, end, computed_at, engine, settings.feature_partitions,
        )  # fmt: skip
    events = store.events(pd.Timestamp(read_from), pd.Timestamp(end))
    if events.empty:
        return 0, {}
    spans = store.label_spans(known_at=pd.Timestamp(end))
    tables = feature_data_folder(settings)
    return len(events), build_offline_features(events, spans, tables, start, end, computed_at, store.use_case)


def refresh_features(settings: Settings, now: datetime | None = None) -> RefreshOutcome:
    """Recompute the feature rows from the oldest changed hour to the current hour boundary; materialise."""
    now = now or datetime.now(UTC)
    target = hour_floor(now)
    store, states = event_store_for(settings), refresh_state_store(settings)
    with states.locked():
        state = states.load()
        start, landings_seen, parts = _recompute_from(store, state)
        if start is None:
            return RefreshOutcome(None, None, 0, reason="no events in the event store yet")
        start = min(start, target)
        with open_engine(settings) as engine:
            read_from = start - lookback(store.use_case)
            events, written = build_features_from_store(settings, read_from, start, target, now, engine)
        if events == 0:
            return RefreshOutcome(state.watermark, None, 0, reason="no events before the current hour yet")
        materialize_online(settings, target)
        states.save(RefreshState(target.isoformat(), landings_seen, parts))
        compaction = compact_event_store(store, set(parts))
    freshness = (now - target).total_seconds()
    logger.info(
        "features refreshed over [%s, %s] from %d events: %s", start.isoformat(), target.isoformat(), events,
        written,
    )  # fmt: skip
    reason = f"recomputed [{start:%Y-%m-%d %H:%M}, {target:%Y-%m-%d %H:%M}] UTC"
    return RefreshOutcome(target.isoformat(), start.isoformat(), events, written, freshness, reason, compaction)


def current_watermark(settings: Settings) -> datetime | None:
    return refresh_state_store(settings).load().watermark_time
