"""The event store: every event the platform knows, and the labels that arrive for them later.

It lives in a local folder, or under the object store's prefix (`pipelines.data.storage`). Two ways in, one record each:
- *Landed* events (the lake's batch loads, `driftloop data ingest events`) are parquet parts under
  `landed/date=YYYY-MM-DD/`, with the time they landed (`ingested_at`).
- *Served* events (every one the endpoint answered) are the prediction log's served rows: the log is
  their canonical record, read here, never copied, so the two can never disagree.

Its columns are the use case's (`UseCase.event_columns`, `UseCase.label_columns`): the store is given the
declaration and names none of them.

Labels are append-only parts under `labels/date=<landing day>/`; a changed label is a new record with its own
time and the latest one wins. Writers take the store's writer lock (`pipelines.data.writer_lock`), so a landing, the
feedback endpoint and a refresh can run at once.
Every part a landing writes carries the landing's record (what landed, and the oldest event and label hour it
touched: `pipelines.data.landing_records`), published with the rows in one durable step; the records are how the
feature refresh knows what to recompute. Readers go through part sets (`pipelines.data.part_set`): an unreadable
part is moved to `quarantine/unreadable/` with its reason and the read goes on; the parts a compaction replaced
are left out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pandas as pd

from pipelines.core.use_case import load_use_case
from pipelines.data import landing_records
from pipelines.data.arrow_frames import tables_frame
from pipelines.data.crash_points import crash_point
from pipelines.data.entity_partitions import EntitySlice, read_rows_where
from pipelines.data.json_lines import parse_lines
from pipelines.data.label_history import INGESTED_AT, KNOWN_AT, label_spans, latest_labels, usable_times
from pipelines.data.landing_records import LEGACY_LOG, Landing
from pipelines.data.part_set import PartSet
from pipelines.data.prediction_log_format import (
    LOGGED_AT,
    ROLE,
    prediction_log_parts,
    read_prediction_log,
    served_event_rows,
)
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from pipelines.data.storage import Folder, event_store_folder, prediction_log_folder, unique_part_name
from pipelines.data.unreadable_files import UnreadableFile, record_torn_line, unreadable_files
from pipelines.data.writer_lock import folder_lock, writer_lock

if TYPE_CHECKING:
    import pyarrow as pa

    from pipelines.core.settings import Settings
    from pipelines.core.use_case import UseCase

logger = logging.getLogger(__name__)

VIA = "via"  # how a label came: BATCH (`driftloop data ingest`) or HTTP (POST /v1/labels); older parts: BATCH
SENT_BY = "sent_by"  # who: the landed file, or `POST /v1/labels by credential <scope>` (the landing's source)
BATCH, HTTP = "batch", "http"
RECORDED_AT = "recorded_at"  # when the platform learnt of an event: landing time, or answer time when served
UTC_TIMES: Final = "datetime64[ns, UTC]"


def _empty(columns: Mapping[str, str]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _typed(frame: pd.DataFrame, columns: Mapping[str, str]) -> pd.DataFrame:
    """The frame with the declared dtype on each declared column it has."""
    return frame.astype({name: dtype for name, dtype in columns.items() if name in frame.columns})


LOCK_NAME = "event-store"
LANDED_PATTERN = "date=*/part-*.parquet"
LABELS_PATTERNS = ("date=*/part-*.parquet", "part-*.parquet")  # by landing day; at the top before they were


class EventStore:
    """The event store at `root`, reading served events from the prediction log at `prediction_log`, holding the
    events and labels of `use_case`.

    Attributes:
        landed, label_parts, served: the part sets readers read (landed events, label records, the
            prediction log's parts).
        quarantine_dir: rejected rows of landings, with their reasons; `unreadable_dir` below it: files no reader
            could parse, with theirs.
    """

    def __init__(
        self,
        root: Path | Folder,
        prediction_log: Path | Folder,
        use_case: UseCase,
        lock: Callable[[], AbstractContextManager[None]] | None = None,
    ) -> None:
        self.use_case = use_case
        self.root = Folder.at(root)
        self.prediction_log = Folder.at(prediction_log)
        self.landed_dir = self.root.child("landed")
        self.labels_dir = self.root.child("labels")
        self.quarantine_dir = self.root.child("quarantine")
        self.unreadable_dir = self.quarantine_dir.child("unreadable")
        self.landed = PartSet(self.landed_dir, (LANDED_PATTERN,), self.unreadable_dir, "landed")
        self.label_parts = PartSet(self.labels_dir, LABELS_PATTERNS, self.unreadable_dir, "labels")
        self.served = prediction_log_parts(self.prediction_log)
        self._lock = lock

    @property
    def event_columns(self) -> Mapping[str, str]:
        """An event's columns and dtypes (the use case's)."""
        return self.use_case.event_columns

    @property
    def label_columns(self) -> Mapping[str, str]:
        """A label's columns and dtypes (the use case's)."""
        return self.use_case.label_columns

    @property
    def label_column(self) -> str:
        """The column holding the label's value."""
        return self.use_case.label.name

    def locked(self) -> AbstractContextManager[None]:
        """Serialise writers (landings, the feedback endpoint) across processes, or nodes (`event_store_for`);
        a wait longer than the store's lock timeout raises `WriterLockTimeout`."""
        if self._lock is not None:
            return self._lock()
        return folder_lock(self.root, LOCK_NAME)

    # Reading -------------------------------------------------------------------------------------------------

    def landed_events(
        self,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
        entities: EntitySlice | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Landed records (each file cut to `entities` as it is read: a partition's reader never holds more); with
        `columns` (event columns), only those and the recorded time, and only they are read from the files."""

        def listing() -> list[str]:
            return self._landed_files(start, end)

        if columns is not None and entities is None:
            # A few columns of many small parts (a part per landing day): read as Arrow, converted once (a part's
            # conversion costs about as much as its read).
            wanted = [*columns, INGESTED_AT]
            tables: list[pa.Table] = self.landed.read(lambda name: self.landed_dir.read_table(name, wanted), listing)
            if not tables:
                return _empty({**self.event_columns, RECORDED_AT: UTC_TIMES})[[*columns, RECORDED_AT]]
            frame = tables_frame(tables)
            return _typed(frame.rename(columns={INGESTED_AT: RECORDED_AT}), self.event_columns)

        def read(name: str) -> pd.DataFrame:
            if entities is None:
                return self.landed_dir.read_parquet(name)
            return entities.read_parquet(self.landed_dir.parquet_file(name))

        frames = self.landed.read(read, listing)
        if not frames:
            empty = _empty({**self.event_columns, RECORDED_AT: UTC_TIMES})
            return empty if columns is None else empty[[*columns, RECORDED_AT]]
        frame = pd.concat(frames, ignore_index=True)
        frame = frame if columns is None else frame[[*columns, INGESTED_AT]]
        return _typed(frame.rename(columns={INGESTED_AT: RECORDED_AT}), self.event_columns)

    def _landed_files(self, start: pd.Timestamp | None, end: pd.Timestamp | None) -> list[str]:
        """The landed parts (`date=YYYY-MM-DD/part-...`) of the days [start, end] touch. With both bounds only those
        days' folders are listed: on an object store, listing the whole history costs a request per 1,000 parts
        on every refresh."""
        if start is not None and end is not None:
            days = [f"date={day:%Y-%m-%d}" for day in pd.date_range(start.floor("D"), end.floor("D"), freq="D")]
            return [f"{day}/{name}" for day in days for name in self.landed_dir.child(day).files("part-*.parquet")]
        files = self.landed_dir.files(LANDED_PATTERN)
        if start is not None:
            files = [f for f in files if f[5:15] >= f"{start:%Y-%m-%d}"]
        if end is not None:
            files = [f for f in files if f[5:15] <= f"{end:%Y-%m-%d}"]
        return files

    def served_events(
        self,
        start: pd.Timestamp | None = None,
        entities: EntitySlice | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Events the endpoint answered, from the prediction log's served rows (one per event id); with `columns`
        (event columns), only those and the recorded time (the log's other columns are not read)."""
        since = None if start is None else start - pd.Timedelta(hours=1)  # answers are logged after receipt
        kept = list(self.event_columns) if columns is None else list(columns)
        # What tells a served event's row, and what picks an entity partition, is read whatever is asked for.
        needed = dict.fromkeys([*kept, EVENT_ID, ROLE, *self.use_case.entity_keys])
        log = read_prediction_log(self.prediction_log, since=since, columns=list(needed))
        if log.empty or EVENT_TIMESTAMP not in log.columns:
            return _empty({**self.event_columns, RECORDED_AT: UTC_TIMES})[[*kept, RECORDED_AT]]
        served = served_event_rows(log, self.use_case.entity_keys)
        if entities is not None:
            served = entities.select(served)
        served = served.drop_duplicates(EVENT_ID, keep="first").rename(columns={LOGGED_AT: RECORDED_AT})
        return _typed(served[[*kept, RECORDED_AT]], self.event_columns)

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
        """Every known event id and its timestamp (the first record of each id); only those columns are read (a
        drift check's label-arrival curves and every landing ask: a third of the time of reading whole events)."""
        wanted = [EVENT_ID, EVENT_TIMESTAMP]
        landed, served = self.landed_events(columns=wanted), self.served_events(columns=wanted)
        frame = pd.concat([landed, served], ignore_index=True)
        frame = frame.sort_values(RECORDED_AT, kind="stable").drop_duplicates(EVENT_ID, keep="first")
        return frame.set_index(EVENT_ID)[EVENT_TIMESTAMP]

    def label_records(self, event_ids: pd.Series | None = None) -> pd.DataFrame:
        """Every label record ever landed (a relabelled event has several), oldest landing first; with
        `event_ids`, only those events' records (cut in Arrow, before pandas builds their strings)."""
        if event_ids is None:
            frames = self.label_parts.read(self.labels_dir.read_parquet)
            records = pd.concat(frames, ignore_index=True) if frames else None
        else:
            tables: list[pa.Table] = self.label_parts.read(self.labels_dir.read_table)
            records = read_rows_where(tables, EVENT_ID, event_ids.astype(str)) if tables else None
        if records is None:
            return _empty({**self.label_columns, INGESTED_AT: UTC_TIMES, KNOWN_AT: UTC_TIMES, VIA: "string",
                           SENT_BY: "string"})  # fmt: skip
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
        return latest_labels(self._known_records(known_at, event_ids), self.label_column, extra)

    def label_spans(self, known_at: pd.Timestamp, event_ids: pd.Series | None = None) -> pd.DataFrame:
        """When each event held each of its label's values, as of `known_at`: see `label_spans`."""
        return label_spans(self._known_records(known_at, event_ids), self.label_column)

    def _known_records(self, known_at: pd.Timestamp | None, event_ids: pd.Series | None) -> pd.DataFrame:
        """Label records with their usable times, those known before `known_at` (all when None)."""
        records = usable_times(self.label_records(event_ids))
        return records if known_at is None else records[records[LABEL_TIMESTAMP] < known_at]

    def landings(self) -> list[Landing]:
        """Every landing the store has a record of, oldest first: the legacy log's, then those in live parts
        (one per landing, its parts' records merged; a compacted part's inputs are counted in it, not listed)."""
        by_landing: dict[str, list[Landing]] = {}
        for name, record in self.landing_records(self.part_names()).items():
            if record is not None and record.kind != landing_records.COMPACTION:
                by_landing.setdefault(record.landing_id or name, []).append(record)
        current = sorted((landing_records.merged(parts) for parts in by_landing.values()),
                         key=lambda landing: pd.Timestamp(landing.landed_at))  # fmt: skip
        return self.legacy_landings() + current

    def part_names(self) -> list[str]:
        """Every live landed and label part, as `landed/<name>` and `labels/<name>`."""
        return [f"{area}/{name}" for area, parts in self._areas().items() for name in parts.live()]

    def landing_records(self, names: Sequence[str]) -> dict[str, Landing | None]:
        """The record each named part (see `part_names`) carries, from its footer alone; None for a part written
        before records lived in parts. An unreadable part is quarantined, a vanished one left out."""
        found: dict[str, Landing | None] = {}
        areas = self._areas()
        for full in names:
            area, name = full.split("/", 1)
            parts = areas[area]
            try:
                ok, metadata = parts.read_one(name, parts.folder.read_footer)
            except FileNotFoundError:
                continue
            if ok and metadata is not None:
                found[full] = landing_records.decode(metadata.metadata)
        return found

    def _areas(self) -> dict[str, PartSet]:
        return {"landed": self.landed, "labels": self.label_parts}

    def legacy_landings(self) -> list[Landing]:
        """The landings log of stores written before records lived in parts; a torn line is skipped, and
        listed with its reason among the unreadable files."""
        records, torn = parse_lines(self.root.read_text(LEGACY_LOG) or "")
        for line in torn:
            record_torn_line(self.root, LEGACY_LOG, line.line, line.reason, self.unreadable_dir)
        return [landing_records.from_dict(record) for record in records]

    def unreadable(self) -> list[UnreadableFile]:
        """Files and log lines no reader could use, moved aside with their reasons (the event store's and the
        prediction log's)."""
        return unreadable_files(self.unreadable_dir) + unreadable_files(self.served.quarantine)

    def unreadable_counts(self) -> dict[str, int]:
        """How many files and log lines each store set aside (the metric's labels: events, predictions)."""
        return {"events": len(unreadable_files(self.unreadable_dir)),
                "predictions": len(unreadable_files(self.served.quarantine))}  # fmt: skip

    # Writing (callers hold `locked()`) ------------------------------------------------------------------------

    def append_events(self, events: pd.DataFrame, landed_at: pd.Timestamp, landing: Landing | None = None) -> None:
        """One part per day, each carrying `landing` (with its own rows and oldest event): a crash between two
        days leaves whole days, each with its record, and a retry lands the rest. Without `landing` (a
        writer of test or benchmark data), a record of an unnamed landing."""
        landing = landing or Landing("events", "unnamed", landed_at.isoformat(), len(events), None, None)
        frame = _typed(events[list(self.event_columns)], self.event_columns).assign(**{INGESTED_AT: landed_at})
        for index, (day, rows) in enumerate(frame.groupby(frame[EVENT_TIMESTAMP].dt.strftime("%Y-%m-%d"), sort=True)):
            if index:
                crash_point("events.between_days")
            record = replace(landing, rows=len(rows), oldest_event=rows[EVENT_TIMESTAMP].min().isoformat())
            self.landed_dir.write_table(_with_record(rows, record), f"date={day}/{unique_part_name()}")

    def append_labels(
        self, labels: pd.DataFrame, landed_at: pd.Timestamp, trusted_times: bool, landing: Landing | None = None
    ) -> str:
        """The labels and their landing's record as one part, published durably in one step; returns its name.
        `trusted_times`: the labels' own stamps say when they were known (a batch landing); otherwise they
        were known when they landed (a client over HTTP). The landing's source stays with every label
        (SENT_BY). Without `landing` (test or benchmark data), a record of an unnamed landing."""
        columns = self.label_columns
        frame = labels[list(columns)].astype(dict(columns)).assign(**{INGESTED_AT: landed_at})
        known = frame[LABEL_TIMESTAMP] if trusted_times else pd.Series(landed_at, index=frame.index)
        frame[KNOWN_AT] = known.astype(UTC_TIMES)  # one type in every part: they are read together
        frame[VIA] = BATCH if trusted_times else HTTP
        oldest = frame[KNOWN_AT].min().isoformat() if len(frame) else None
        landing = landing or Landing("labels", "unknown", landed_at.isoformat(), len(frame), None, oldest)
        frame[SENT_BY] = landing.source
        name = f"date={landed_at:%Y-%m-%d}/{unique_part_name()}"  # a day's folder: the index lists only today's
        self.labels_dir.write_table(_with_record(frame, landing), name)
        crash_point("labels.published")
        return name

    def quarantine(self, rejected: pd.DataFrame, kind: str, landed_at: pd.Timestamp) -> str:
        """Keep rejected rows with their reasons, never drop them: a person can fix and land them again.
        Returns where they are."""
        name = f"{kind}-{landed_at:%Y%m%dT%H%M%S}-{time.time_ns()}.parquet"
        self.quarantine_dir.write_parquet(_frame_for_quarantine(rejected), name)
        return self.quarantine_dir.uri(name)


def _with_record(frame: pd.DataFrame, landing: Landing) -> pa.Table:
    """The rows as an Arrow table whose footer carries the landing's record."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.replace_schema_metadata({**(table.schema.metadata or {}), **landing_records.encode(landing)})


def _frame_for_quarantine(rejected: pd.DataFrame) -> pd.DataFrame:
    """Rejected rows as text where their types are broken, so any delivered shape can be written."""
    frame = rejected.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(lambda v: None if v is None else str(v)).astype("string")
    return frame


def event_store_for(settings: Settings) -> EventStore:
    """The event store the settings name: its folder, the prediction log it reads served events from, the use
    case whose events it holds, and the lock its writers take (a wait bounded by DRIFTLOOP_WRITER_LOCK_TIMEOUT_S)."""
    root = event_store_folder(settings)
    timeout = settings.writer_lock_timeout_s
    return EventStore(
        root,
        prediction_log_folder(settings),
        load_use_case(settings.use_case),
        lambda: writer_lock(settings, LOCK_NAME, root, timeout),
    )
