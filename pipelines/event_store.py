"""The event store: every transaction the platform knows, and the labels that arrive for them later.

It lives in a local folder, or under the object store's prefix (`pipelines.storage`). Two ways in, one record each:
- *Landed* transactions (the lake's batch loads, `driftloop data ingest events`) are parquet parts under
  `landed/date=YYYY-MM-DD/`, with the time they landed (`ingested_at`).
- *Served* transactions (every one the endpoint answered) are the prediction log's served rows: the log is
  their canonical record, read here, never copied, so the two can never disagree.

Labels are append-only parts under `labels/`; a changed label is a new record with its own time and the
latest one wins. Writers take the store's writer lock (`pipelines.writer_lock`), so a landing, the feedback
endpoint and a refresh can run at once.
Every landing is recorded in `landings.jsonl` (what landed, and the oldest event and label hour it touched),
which is how the feature refresh knows what to recompute.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
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
    IS_FRAUD,
    LABEL_COLUMNS,
    LABEL_TIMESTAMP,
    MERCHANT_ID,
    UNTIL,
)
from pipelines.storage import Folder, unique_part_name

if TYPE_CHECKING:
    from driftloop.core.settings import Settings

logger = logging.getLogger(__name__)

INGESTED_AT = "ingested_at"
# When the platform may use a label (point-in-time reads, chargeback features, training windows): the time it
# arrived when a client sent it over HTTP (a client's label_timestamp is only its business time: a backdated
# one must not reach into the past), its label_timestamp when a trusted batch landing (`driftloop data ingest`,
# an operator's lake history) brought it. Parts written before this column read as their label_timestamp.
KNOWN_AT = "known_at"
VIA = "via"  # how a label came: BATCH (`driftloop data ingest`) or HTTP (POST /v1/labels); older parts: BATCH
SENT_BY = "sent_by"  # who: the landed file, or `POST /v1/labels by credential <scope>` (the landing's source)
BATCH, HTTP = "batch", "http"
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


LANDINGS_LOG = "landings.jsonl"
LOCK_NAME = "event-store"


class EventStore:
    def __init__(
        self,
        root: Path | Folder,
        prediction_log: Path | Folder,
        lock: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.root = Folder.at(root)
        self.prediction_log = Folder.at(prediction_log)
        self.landed_dir = self.root.child("landed")
        self.labels_dir = self.root.child("labels")
        self.quarantine_dir = self.root.child("quarantine")
        self._lock = lock

    def locked(self) -> AbstractContextManager[None]:
        """Serialise writers (landings, the feedback endpoint) across processes, or nodes (`event_store_for`)."""
        if self._lock is not None:
            return self._lock()
        from pipelines.writer_lock import folder_lock

        return folder_lock(self.root, LOCK_NAME)

    # Reading -------------------------------------------------------------------------------------------------

    def landed_events(
        self, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, entities: EntitySlice | None = None
    ) -> pd.DataFrame:
        """Landed records (each file cut to `entities` as it is read: a partition's reader never holds more)."""
        files = self._landed_files(start, end)
        if not files:
            return _empty({**EVENT_COLUMNS, RECORDED_AT: "datetime64[ns, UTC]"})
        if entities is None:
            frames = [self.landed_dir.read_parquet(f) for f in files]
        else:
            frames = [entities.read_parquet(self.landed_dir.parquet_file(f)) for f in files]
        frame = pd.concat(frames, ignore_index=True)
        return _as_event_frame(frame.rename(columns={INGESTED_AT: RECORDED_AT}))

    def _landed_files(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[str]:
        """The landed parts (`date=YYYY-MM-DD/part-...`) of the days [start, end] touch. With both bounds only those
        days' folders are listed: on an object store, listing the whole history costs a request per 1,000 parts
        on every refresh."""
        if start is not None and end is not None:
            days = [f"date={day:%Y-%m-%d}" for day in pd.date_range(start.floor("D"), end.floor("D"), freq="D")]
            return [f"{day}/{name}" for day in days for name in self.landed_dir.child(day).files("part-*.parquet")]
        files = self.landed_dir.files("date=*/part-*.parquet")
        if start is not None:
            files = [f for f in files if f[5:15] >= f"{start:%Y-%m-%d}"]
        if end is not None:
            files = [f for f in files if f[5:15] <= f"{end:%Y-%m-%d}"]
        return files

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
        files = self.labels_dir.files("part-*.parquet")
        if not files:
            return _empty({**LABEL_COLUMNS, INGESTED_AT: "datetime64[ns, UTC]", KNOWN_AT: "datetime64[ns, UTC]",
                           VIA: "string", SENT_BY: "string"})  # fmt: skip
        if event_ids is None:
            records = pd.concat([self.labels_dir.read_parquet(f) for f in files], ignore_index=True)
        else:
            tables = [self.labels_dir.read_table(f) for f in files]
            records = read_rows_where(tables, EVENT_ID, event_ids.astype(str))
        # Parts written before the channel was recorded came from batch landings (the only way then).
        return records.assign(**{VIA: records[VIA].fillna(BATCH) if VIA in records else BATCH})

    def labels(
        self, known_at: pd.Timestamp | None = None, event_ids: pd.Series | None = None, extra: Sequence[str] = ()
    ) -> pd.DataFrame:
        """The current label of each labelled event: the latest by the time the platform knew it (landing order
        breaks ties), its `label_timestamp` column holding that time (see KNOWN_AT).

        `known_at` leaves out labels the platform did not know yet at that time, as a point-in-time reader
        needs; `event_ids` keeps only those events' labels (a partition's reader); `extra` keeps more of the
        records' columns (VIA, SENT_BY).
        """
        return latest_labels(self._known_records(known_at, event_ids), extra)

    def fraud_spans(self, known_at: pd.Timestamp, event_ids: pd.Series | None = None) -> pd.DataFrame:
        """When each event was known to be fraud, as of `known_at`: see `fraud_spans`."""
        return fraud_spans(self._known_records(known_at, event_ids))

    def _known_records(self, known_at: pd.Timestamp | None, event_ids: pd.Series | None) -> pd.DataFrame:
        """Label records with their usable times, those known before `known_at` (all when None)."""
        records = usable_times(self.label_records(event_ids))
        return records if known_at is None else records[records[LABEL_TIMESTAMP] < known_at]

    def landings(self) -> list[Landing]:
        text = self.root.read_text(LANDINGS_LOG) or ""
        return [Landing(**json.loads(line)) for line in text.splitlines() if line.strip()]

    # Writing (callers hold `locked()`) ------------------------------------------------------------------------

    def append_events(self, events: pd.DataFrame, landed_at: pd.Timestamp) -> None:
        frame = _as_event_frame(events[list(EVENT_COLUMNS)]).assign(**{INGESTED_AT: landed_at})
        for day, rows in frame.groupby(frame[EVENT_TIMESTAMP].dt.strftime("%Y-%m-%d"), sort=True):
            self.landed_dir.write_parquet(rows, f"date={day}/{unique_part_name()}")

    def append_labels(
        self, labels: pd.DataFrame, landed_at: pd.Timestamp, trusted_times: bool, sent_by: str = "unknown"
    ) -> None:
        """`trusted_times`: the labels' own stamps say when they were known (a batch landing); otherwise they
        were known when they landed (a client over HTTP). `sent_by` stays with every label (SENT_BY)."""
        frame = labels[list(LABEL_COLUMNS)].astype(LABEL_COLUMNS).assign(**{INGESTED_AT: landed_at})
        known = frame[LABEL_TIMESTAMP] if trusted_times else pd.Series(landed_at, index=frame.index)
        frame[KNOWN_AT] = known.astype("datetime64[ns, UTC]")  # one type in every part: they are read together
        frame[VIA] = BATCH if trusted_times else HTTP
        frame[SENT_BY] = sent_by
        self.labels_dir.write_parquet(frame, unique_part_name())

    def record_landing(self, landing: Landing) -> None:
        self.root.append_text(LANDINGS_LOG, json.dumps(asdict(landing)) + "\n")

    def quarantine(self, rejected: pd.DataFrame, kind: str, landed_at: pd.Timestamp) -> str:
        """Keep rejected rows with their reasons, never drop them: a person can fix and land them again.
        Returns where they are."""
        name = f"{kind}-{landed_at:%Y%m%dT%H%M%S}-{time.time_ns()}.parquet"
        self.quarantine_dir.write_parquet(_frame_for_quarantine(rejected), name)
        return self.quarantine_dir.uri(name)


def usable_times(records: pd.DataFrame) -> pd.DataFrame:
    """Label records with `label_timestamp` replaced by the time the platform may use each (KNOWN_AT; a part
    without the column: its label_timestamp)."""
    if KNOWN_AT not in records:
        return records
    known = records[KNOWN_AT].fillna(records[LABEL_TIMESTAMP]) if len(records) else records[LABEL_TIMESTAMP]
    return records.assign(**{LABEL_TIMESTAMP: known.astype(records[LABEL_TIMESTAMP].dtype)})


def fraud_spans(records: pd.DataFrame) -> pd.DataFrame:
    """Each stretch of time an event was known to be fraud, from label records with usable times: its
    `label_timestamp` (known from) and UNTIL (when a later label said otherwise; NaT while it still holds).

    Why spans and not the latest verdict: a feature for a past hour must use what was known then. A fraud
    verdict withdrawn today stays a known chargeback for the hours before today."""
    ordered = records.sort_values([EVENT_ID, LABEL_TIMESTAMP, INGESTED_AT], kind="stable")
    changed = ordered[IS_FRAUD].ne(ordered.groupby(EVENT_ID)[IS_FRAUD].shift())  # a verdict's first record
    changes = ordered.loc[changed, [EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP]]
    until = changes.groupby(EVENT_ID)[LABEL_TIMESTAMP].shift(-1)
    spans = changes.assign(**{UNTIL: until})[changes[IS_FRAUD] == 1]
    return spans[[EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP, UNTIL]].reset_index(drop=True)


def latest_labels(records: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """Each event's current label among its records (usable_times first): the latest by label time, landing
    order breaking ties. `extra` keeps more of the records' columns."""
    latest = records.sort_values([LABEL_TIMESTAMP, INGESTED_AT], kind="stable").drop_duplicates(EVENT_ID, keep="last")
    return latest[[*LABEL_COLUMNS, *extra]].sort_values(EVENT_ID, kind="stable").reset_index(drop=True)


def _frame_for_quarantine(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as text where their types are broken, so any delivered shape can be written."""
    frame = rejected.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v)).astype("string")
    return frame


def event_store_for(settings: Settings) -> EventStore:
    """The event store the settings name: its folder, the prediction log it reads served events from, and the
    lock its writers take."""
    from pipelines.storage import event_store_folder, prediction_log_folder
    from pipelines.writer_lock import writer_lock

    root = event_store_folder(settings)
    return EventStore(root, prediction_log_folder(settings), lambda: writer_lock(settings, LOCK_NAME, root))
