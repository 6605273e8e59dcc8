"""The prediction log's format: its columns, its row builder and partition layout, shared by the writer and
every reader.

The model servers write it (`serving.prediction_log`); the drift check, realised quality, the skew check
and the event store read it. Served rows are the canonical record of every event the endpoint answered: the
event store reads served events from here rather than keeping a second copy. Beside the model input, a row
holds one column per entity key of the use case (`Events.entity_ids`; MISSING_ENTITY when a request carried
none), the event's id and receipt time, and the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipelines.data.arrow_frames import tables_frame
from pipelines.data.part_set import PartSet
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP
from pipelines.data.storage import Folder

if TYPE_CHECKING:
    import pyarrow as pa

LOGGED_AT = "logged_at"  # when the answer was logged (UTC)
ROLE = "role"  # "served" (returned to the caller) or "shadow" (challenger, logged only)
SERVED = "served"
SHADOW = "shadow"
PREDICTION = "prediction"
MODEL_VERSION = "model_version"
MODEL_ALIAS = "model_alias"
REQUEST_ID = "request_id"
PARTS_PATTERN = "date=*/hour=*/part-*.parquet"
MISSING_ENTITY = -1  # an entity key of a row answered without its entity ids (entity keys are >= 0)


@dataclass(frozen=True)
class Events:
    """A request's rows as events: entity ids, event ids and receipt times (UTC, datetime64[ns])."""

    entity_ids: Mapping[str, np.ndarray]  # one int64 array per entity key of the use case, in declaration order
    event_ids: np.ndarray  # object array of str
    received: np.ndarray

    def __len__(self) -> int:
        return len(self.event_ids)

    def received_iso(self) -> list[str]:
        """Receipt times as ISO strings ending in Z, the form they travel in between servers."""
        return [f"{value}Z" for value in np.datetime_as_string(self.received, unit="us")]


@dataclass(frozen=True)
class PendingRows:
    """One request's answered rows, as the request left them (arrays); the log's writer builds the rows later."""

    inputs: Mapping[str, np.ndarray]  # one array per model input column
    events: Events | None  # the rows as events; None for a feature request without entity ids
    scores: np.ndarray
    model_version: str
    model_alias: str
    role: str
    request_id: str
    logged_at: float
    entity_keys: tuple[str, ...]  # the log's entity columns: rows without events hold MISSING_ENTITY

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def batch_columns(cls, batch: Sequence[PendingRows]) -> dict[str, np.ndarray]:
        """The log rows of many requests at once, as arrays (`LogColumns`): one concatenation per column, on
        the writer thread; no pandas (a commit's frame cost more than the rest of the commit)."""
        lengths = [len(item.scores) for item in batch]

        def event_column(read: Callable[[Events], np.ndarray], missing: object, dtype: str) -> np.ndarray:
            """One column of every request's events; rows of a request without events get `missing`."""
            parts = [
                read(item.events) if item.events is not None else np.full(n, missing, dtype=dtype)
                for item, n in zip(batch, lengths, strict=True)
            ]
            return np.concatenate(parts).astype(dtype)

        def entity_column(key: str) -> np.ndarray:
            return event_column(lambda events: events.entity_ids[key], MISSING_ENTITY, "int64")

        def per_row(values: list[object]) -> np.ndarray:
            return np.repeat(np.array(values, dtype=object), lengths)

        # The model input columns are whatever the requests carried, in their order (the model's input order).
        first = list(batch[0].inputs) if batch else []
        columns = {c: np.concatenate([item.inputs[c] for item in batch]) for c in first}
        for key in dict.fromkeys(key for item in batch for key in item.entity_keys):
            columns[key] = entity_column(key)
        columns[EVENT_ID] = event_column(lambda events: events.event_ids, None, "object")
        columns[EVENT_TIMESTAMP] = event_column(lambda events: events.received, np.datetime64("NaT"), "datetime64[ns]")
        columns[PREDICTION] = np.concatenate([item.scores for item in batch]).astype(np.float64)
        columns[MODEL_VERSION] = per_row([item.model_version for item in batch])
        columns[MODEL_ALIAS] = per_row([item.model_alias for item in batch])
        columns[ROLE] = per_row([item.role for item in batch])
        columns[REQUEST_ID] = per_row([item.request_id for item in batch])
        logged_us = np.repeat(np.array([round(item.logged_at * 1e6) for item in batch], dtype=np.int64), lengths)
        columns[LOGGED_AT] = logged_us.astype("datetime64[us]").astype("datetime64[ns]")
        return columns


LogColumns = Mapping[str, np.ndarray]  # the log's rows as arrays: times datetime64[ns] in UTC, ids and text object
LogRows = LogColumns | pd.DataFrame  # a batch of the log's rows: a commit's arrays, or a frame read back


def log_frame(columns: LogColumns) -> pd.DataFrame:
    """The frame the log's readers get back for these columns: event ids as pandas strings, times in UTC."""
    frame = pd.DataFrame({name: values for name, values in columns.items()})
    if EVENT_ID in frame:
        frame[EVENT_ID] = pd.array(frame[EVENT_ID].to_numpy(dtype=object), dtype="string")
    for name in (EVENT_TIMESTAMP, LOGGED_AT):
        if name in frame:
            frame[name] = pd.to_datetime(frame[name], utc=True)
    return frame


_LOG_SCHEMAS: dict[tuple[tuple[str, str], ...], pa.Schema] = {}


def log_table(columns: LogColumns) -> pa.Table:
    """The Arrow table `pa.Table.from_pandas(log_frame(columns))` gives (types and pandas metadata alike, so a
    reader's `to_pandas()` returns the same frame), built from the arrays directly: the schema of each layout
    of columns is derived from a frame once, and every later batch skips pandas. A schema with a column of
    nothing but missing values (Arrow's null type) is not kept, and a batch its layout's schema cannot hold goes
    through pandas: a first batch of missing values never decides the type of the batches after it."""
    import pyarrow as pa

    # Text of any width, or objects, is one layout (pandas holds them as objects): the cache stays a few entries.
    layout = tuple((name, "O" if values.dtype.kind in "USO" else values.dtype.str) for name, values in columns.items())
    schema = _LOG_SCHEMAS.get(layout)
    if schema is None:
        table = pa.Table.from_pandas(log_frame(columns), preserve_index=False)
        if not any(pa.types.is_null(field.type) for field in table.schema):
            _LOG_SCHEMAS[layout] = table.schema
        return table
    try:
        arrays = [pa.array(columns[field.name], type=field.type, from_pandas=True) for field in schema]
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.Table.from_pandas(log_frame(columns), preserve_index=False)
    return pa.Table.from_arrays(arrays, schema=schema)


def served_event_mask(log: LogRows, entity_keys: Sequence[str]) -> np.ndarray:
    """Which of the log's rows record an event: served answers (not shadow ones) with an event id and every
    entity key (a row answered without its entity ids holds MISSING_ENTITY there). Arrays or a frame alike."""
    served = np.asarray(log[ROLE] == SERVED) & np.asarray(pd.notna(log[EVENT_ID]))
    for key in entity_keys:
        served &= np.asarray(log[key] >= 0)
    return served


def served_event_rows(log: pd.DataFrame, entity_keys: Sequence[str]) -> pd.DataFrame:
    """The log's rows that record an event: served answers (not shadow ones) with an event id and every entity
    key (a row answered without its entity ids holds MISSING_ENTITY there)."""
    return log[served_event_mask(log, entity_keys)]


def partition_name(moment: pd.Timestamp) -> str:
    """The hour folder of rows logged at `moment`, relative to the log's root."""
    return f"date={moment:%Y-%m-%d}/hour={moment:%H}"


def _partition_hour(name: str) -> pd.Timestamp:
    date, hour = name.split("/")[:2]  # date=YYYY-MM-DD/hour=HH/part-...
    return pd.Timestamp(f"{date[5:]} {hour[5:]}:00", tz="UTC")


def prediction_log_parts(root: Path | Folder) -> PartSet:
    """The log's parts as readers read them: an unreadable part is moved to `quarantine/unreadable/` under the
    log's root, with its reason, and the read goes on; parts a compaction replaced are left out."""
    folder = Folder.at(root)
    return PartSet(folder, (PARTS_PATTERN,), folder.child("quarantine", "unreadable"), "predictions")


def read_prediction_log(
    root: Path | Folder, since: pd.Timestamp | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """Every logged row (optionally from `since` on, optionally only some columns), oldest first. The log is a
    local folder or a prefix on the object store (`pipelines.data.storage`)."""
    parts = prediction_log_parts(root)
    folder = parts.folder

    def listing() -> list[str]:
        files = parts.listing()
        return files if since is None else [f for f in files if _partition_hour(f) >= since.floor("h")]

    wanted = None if columns is None else sorted({*columns, LOGGED_AT})
    tables = parts.read(lambda f: folder.read_table(f, columns=_present(folder, f, wanted)), listing)
    if not tables:
        return pd.DataFrame()
    frame = tables_frame(tables)  # the parts (one per publish) converted to pandas once, not one by one
    if since is not None:
        frame = frame[frame[LOGGED_AT] >= since]
    return frame.sort_values(LOGGED_AT, kind="stable").reset_index(drop=True)


def _present(folder: Folder, file: str, wanted: list[str] | None) -> list[str] | None:
    """The wanted columns this file has (older files lack newer columns; the concat fills them with nulls)."""
    if wanted is None:
        return None
    names = set(folder.read_schema(file).names)
    return [c for c in wanted if c in names]
