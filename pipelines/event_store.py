"""The event store: every transaction the platform knows, and the labels that arrive for them later.

Two ways in, one record each:
- *Landed* transactions (the lake's batch loads, `driftloop data ingest events`) are parquet parts under
  `landed/date=YYYY-MM-DD/`, with the time they landed (`ingested_at`).
- *Served* transactions (every one the endpoint answered) are the prediction log's served rows: the log is
  their canonical record, read here, never copied, so the two can never disagree.

Labels are append-only parts under `labels/`; a changed label is a new record with its own time and the
latest one wins. Writers take a file lock, so a landing, the feedback endpoint and a refresh can run at once.
Every landing is recorded in `landings.jsonl` (what landed, and the oldest event and label hour it touched),
which is how the feature refresh knows what to recompute.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.entity_partitions import EntitySlice, read_rows_where
from pipelines.prediction_log_format import LOGGED_AT, ROLE, SERVED, read_prediction_log
from pipelines.schema import (
    AMOUNT,
    CHANNEL,
    CUSTOMER_ID,
    EVENT_COLUMNS,
    EVENT_ID,
    EVENT_TIMESTAMP,
    LABEL_COLUMNS,
    LABEL_TIMESTAMP,
    MERCHANT_ID,
)

if TYPE_CHECKING:
    from driftloop.core.settings import Settings

logger = logging.getLogger(__name__)

INGESTED_AT = "ingested_at"
RECORDED_AT = "recorded_at"  # when the platform learnt of an event: landing time, or answer time when served
SERVED_COLUMNS = [EVENT_ID, EVENT_TIMESTAMP, CUSTOMER_ID, MERCHANT_ID, AMOUNT, CHANNEL, ROLE]


@dataclass(frozen=True)
class Landing:
    """One landing, as recorded in the landings log."""

    kind: str  # "events" or "labels"
    source: str
    landed_at: str
    rows: int
    oldest_event: str | None  # the oldest event timestamp the landing adds or relabels
    oldest_label: str | None  # the oldest label timestamp it adds (labels only)


def _empty(columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _as_event_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.astype({name: dtype for name, dtype in EVENT_COLUMNS.items() if name in frame.columns})


class EventStore:
    def __init__(self, root: Path, prediction_log: Path) -> None:
        self.root = root
        self.prediction_log = prediction_log
        self.landed_dir = root / "landed"
        self.labels_dir = root / "labels"
        self.quarantine_dir = root / "quarantine"
        self.landings_path = root / "landings.jsonl"

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Serialise writers (landings, the feedback endpoint) across processes."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # Reading -------------------------------------------------------------------------------------------------

    def landed_events(
        self, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, entities: EntitySlice | None = None
    ) -> pd.DataFrame:
        """Landed records (each file cut to `entities` as it is read: a partition's reader never holds more)."""
        files = sorted(self.landed_dir.glob("date=*/part-*.parquet"))
        if start is not None:
            files = [f for f in files if f.parent.name[5:] >= f"{start:%Y-%m-%d}"]
        if end is not None:
            files = [f for f in files if f.parent.name[5:] <= f"{end:%Y-%m-%d}"]
        if not files:
            return _empty({**EVENT_COLUMNS, RECORDED_AT: "datetime64[ns, UTC]"})
        read = pd.read_parquet if entities is None else entities.read_parquet
        frame = pd.concat([read(f) for f in files], ignore_index=True)
        return _as_event_frame(frame.rename(columns={INGESTED_AT: RECORDED_AT}))

    def served_events(self, start: pd.Timestamp | None = None, entities: EntitySlice | None = None) -> pd.DataFrame:
        """Transactions the endpoint answered, from the prediction log's served rows (one per event id)."""
        since = None if start is None else start - pd.Timedelta(hours=1)  # answers are logged after receipt
        log = read_prediction_log(self.prediction_log, since=since, columns=SERVED_COLUMNS)
        if log.empty or EVENT_TIMESTAMP not in log.columns:
            return _empty({**EVENT_COLUMNS, RECORDED_AT: "datetime64[ns, UTC]"})
        served = log[(log[ROLE] == SERVED) & log[EVENT_ID].notna() & (log[CUSTOMER_ID] >= 0)]
        if entities is not None:
            served = entities.select(served)
        served = served.rename(columns={LOGGED_AT: RECORDED_AT})[[*EVENT_COLUMNS, RECORDED_AT]]
        return _as_event_frame(served.drop_duplicates(EVENT_ID, keep="first"))

    def events(
        self, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, entities: EntitySlice | None = None
    ) -> pd.DataFrame:
        """Every known event stamped in [start, end), landed or served, once each (first recorded wins);
        with `entities`, only that entity partition's (an event's records share its entities)."""
        frame = pd.concat(
            [self.landed_events(start, end, entities), self.served_events(start, entities)], ignore_index=True
        )
        frame = frame.sort_values(RECORDED_AT, kind="stable").drop_duplicates(EVENT_ID, keep="first")
        stamps = frame[EVENT_TIMESTAMP]
        keep = pd.Series(True, index=frame.index)
        if start is not None:
            keep &= stamps >= start
        if end is not None:
            keep &= stamps < end
        frame = frame[keep].drop(columns=[RECORDED_AT])
        return frame.sort_values([EVENT_TIMESTAMP, EVENT_ID], kind="stable").reset_index(drop=True)

    def event_times(self) -> pd.Series:
        """Every known event id and its timestamp (the first record of each id)."""
        columns = [EVENT_ID, EVENT_TIMESTAMP, RECORDED_AT]
        landed = self.landed_events()[columns]
        frame = pd.concat([landed, self.served_events()[columns]], ignore_index=True)
        frame = frame.sort_values(RECORDED_AT, kind="stable").drop_duplicates(EVENT_ID, keep="first")
        return frame.set_index(EVENT_ID)[EVENT_TIMESTAMP]

    def label_records(self, event_ids: pd.Series | None = None) -> pd.DataFrame:
        """Every label record ever landed (a relabelled event has several), oldest landing first; with
        `event_ids`, only those events' records (cut in Arrow, before pandas builds their strings)."""
        files = sorted(self.labels_dir.glob("part-*.parquet"))
        if not files:
            return _empty({**LABEL_COLUMNS, INGESTED_AT: "datetime64[ns, UTC]"})
        if event_ids is None:
            return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
        return read_rows_where(files, EVENT_ID, event_ids.astype(str))

    def labels(self, known_at: pd.Timestamp | None = None, event_ids: pd.Series | None = None) -> pd.DataFrame:
        """The current label of each labelled event: the latest by label time (landing order breaks ties).

        `known_at` leaves out labels that arrived after it, as a point-in-time reader needs; `event_ids` keeps
        only those events' labels (a partition's reader).
        """
        records = self.label_records(event_ids)
        if known_at is not None:
            records = records[records[LABEL_TIMESTAMP] < known_at]
        return latest_labels(records)

    def landings(self) -> list[Landing]:
        if not self.landings_path.exists():
            return []
        return [Landing(**json.loads(line)) for line in self.landings_path.read_text().splitlines() if line.strip()]

    # Writing (callers hold `locked()`) ------------------------------------------------------------------------

    def append_events(self, events: pd.DataFrame, landed_at: pd.Timestamp) -> None:
        frame = _as_event_frame(events[list(EVENT_COLUMNS)]).assign(**{INGESTED_AT: landed_at})
        for day, rows in frame.groupby(frame[EVENT_TIMESTAMP].dt.strftime("%Y-%m-%d"), sort=True):
            _write_part(rows, self.landed_dir / f"date={day}")

    def append_labels(self, labels: pd.DataFrame, landed_at: pd.Timestamp) -> None:
        frame = labels[list(LABEL_COLUMNS)].astype(LABEL_COLUMNS).assign(**{INGESTED_AT: landed_at})
        _write_part(frame, self.labels_dir)

    def record_landing(self, landing: Landing) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with self.landings_path.open("a") as log:
            log.write(json.dumps(asdict(landing)) + "\n")

    def quarantine(self, rejected: pd.DataFrame, kind: str, landed_at: pd.Timestamp) -> Path:
        """Keep rejected rows with their reasons, never drop them: a person can fix and land them again."""
        self.quarantine_dir.mkdir(parents=True, exist_ok=True)
        path = self.quarantine_dir / f"{kind}-{landed_at:%Y%m%dT%H%M%S}-{time.time_ns()}.parquet"
        _frame_for_quarantine(rejected).to_parquet(path, index=False)
        return path


def latest_labels(records: pd.DataFrame) -> pd.DataFrame:
    """Each event's current label among its records: the latest by label time (landing order breaks ties)."""
    latest = records.sort_values([LABEL_TIMESTAMP, INGESTED_AT], kind="stable").drop_duplicates(EVENT_ID, keep="last")
    return latest[list(LABEL_COLUMNS)].sort_values(EVENT_ID, kind="stable").reset_index(drop=True)


def _frame_for_quarantine(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as text where their types are broken, so any delivered shape can be written."""
    frame = rejected.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v)).astype("string")
    return frame


def _write_part(frame: pd.DataFrame, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns()}-{os.getpid()}.parquet"
    temporary = folder / f".{name}.tmp"
    frame.to_parquet(temporary, index=False)
    os.replace(temporary, folder / name)


def event_store_for(settings: Settings) -> EventStore:
    """The event store the settings name (its folder and the prediction log it reads served events from)."""
    return EventStore(settings.event_store_path, settings.prediction_log_path)
