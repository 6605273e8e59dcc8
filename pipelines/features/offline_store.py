"""The offline store's parquet tables: one folder per view, one part per entity partition, written window by
window, idempotently.

Re-running a window (a retry, a late batch, a backfill) replaces the rows stamped inside it, so the table never
holds two rows for one entity and hour. A part is published whole (`pipelines.data.storage`: a local rename, or an
object store upload), so a reader (a Feast retrieval) sees each part old or new, never half of one; an
entity's rows all live in one part.
Parts are named `part-<index>-of-<count>.parquet`: the pandas engine writes one (`of-00001`), the ray engine
one per partition. A build with another partition count first writes its own parts, each from the matching
rows of the old layout, then removes the old parts (until then both hold the same rows, and Feast's
point-in-time join keeps one of each: the latest `created_timestamp`). The single-file tables of earlier
versions (`offline/<view>.parquet`) are read the same way and then removed. The tables live in a local folder
or on the object store (`DRIFTLOOP_OBJECT_STORE_URL`), where tasks on every node read and write them.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.core.use_case import EVENT_ID, UseCase, ViewInputs
from pipelines.data.entity_partitions import EntitySlice
from pipelines.data.schema import EVENT_TIMESTAMP, UNTIL, offline_table
from pipelines.data.storage import Folder

logger = logging.getLogger(__name__)


PARTS = "part-*.parquet"


def offline_table_paths(feature_data: Path | Folder, use_case: UseCase) -> dict[str, Folder]:
    """Where each feature view's offline table (a folder of parts) lives, under the feature data folder
    (`pipelines.data.storage.feature_data_folder`); the Feast sources read the same."""
    root = Folder.at(feature_data)
    return {view.name: root.child(*offline_table(view.name).split("/")) for view in use_case.views}


def missing_tables(feature_data: Path | Folder, use_case: UseCase) -> list[str]:
    """The views' tables that have no part yet (features never built there)."""
    return [str(table) for table in offline_table_paths(feature_data, use_case).values() if not table.files(PARTS)]


def streamed_tables(feature_data: Path | Folder, use_case: UseCase) -> dict[str, pd.DataFrame]:
    """The streamed views' offline tables, whole: what `point_in_time_features` joins them from."""
    paths = offline_table_paths(feature_data, use_case)
    return {
        view.name: read_offline_table(paths[view.name], use_case.key_of(view.name))
        for view in use_case.views
        if view.streamed
    }


def part_name(part: EntitySlice) -> str:
    return f"part-{part.index:05d}-of-{part.count:05d}.parquet"


def _single_file_table(table: Folder) -> Path | None:
    """Where earlier versions kept the whole table in one file (only ever on a local disk)."""
    return None if table.remote else table.local_path.with_name(f"{table.name}.parquet")


def read_offline_table(table: Path | Folder, key: str) -> pd.DataFrame:
    """Every row of a view's table (all parts), sorted by stamp then entity (`key`): one order whatever the
    layout."""
    table = Folder.at(table)
    parts = table.files(PARTS)
    if not parts:
        raise FileNotFoundError(f"no offline table at {table}; build features first")
    frame = pd.concat([table.read_parquet(name) for name in parts], ignore_index=True)
    return frame.sort_values([EVENT_TIMESTAMP, key], kind="stable").reset_index(drop=True)


def read_partition(table: Path | Folder, part: EntitySlice) -> pd.DataFrame | None:
    """The part's rows as the table holds them now: its own file, or its entities' rows of another layout
    (None when the table has no rows anywhere)."""
    table = Folder.at(table)
    own = part_name(part)
    if table.exists(own):
        return table.read_parquet(own)
    frames = [part.read_parquet(table.parquet_file(name)) for name in table.files(PARTS)]
    single = _single_file_table(table)
    if single is not None and single.exists():
        frames.append(part.read_parquet(single))
    return pd.concat(frames, ignore_index=True) if frames else None


def write_window(rows: pd.DataFrame, table: Path | Folder, start: datetime, end: datetime, part: EntitySlice) -> int:
    """Replace the part's rows stamped in [start, end] with `rows`; returns the part's row count afterwards."""
    outside = rows[(rows[EVENT_TIMESTAMP] < pd.Timestamp(start)) | (rows[EVENT_TIMESTAMP] > pd.Timestamp(end))]
    if len(outside):
        raise ValueError(f"{len(outside)} rows fall outside the window [{start}, {end}]")
    table = Folder.at(table)
    parts = [rows]
    existing = read_partition(table, part)
    if existing is not None:
        stamps = existing[EVENT_TIMESTAMP]
        parts.insert(0, existing[(stamps < pd.Timestamp(start)) | (stamps > pd.Timestamp(end))])
    written = pd.concat(parts, ignore_index=True).sort_values(EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)
    target = part_name(part)
    table.write_parquet(written, target)
    logger.debug("%s/%s: wrote %d rows in [%s, %s], %d in total", table.name, target, len(rows), start, end,
                 len(written))  # fmt: skip
    return len(written)


def adopt_single_file_tables(feature_data: Path | Folder, use_case: UseCase) -> None:
    """Move an earlier version's single-file tables into their folders as the one part they are (exact; local
    folders only: no earlier version wrote to an object store)."""
    for view, table in offline_table_paths(feature_data, use_case).items():
        single = _single_file_table(table)
        if single is not None and single.exists() and not table.files(PARTS):
            table.local_path.mkdir(parents=True, exist_ok=True)
            os.replace(single, table.local_path / part_name(EntitySlice(use_case.key_of(view), 0, 1)))
            logger.info("moved %s into %s", single, table)


def retire_other_layouts(table: Path | Folder, count: int) -> None:
    """Remove the parts of other partition counts and an earlier version's single file (after a full write)."""
    table = Folder.at(table)
    for name in table.files(PARTS):
        if not name.endswith(f"-of-{count:05d}.parquet"):
            table.delete(name)
    single = _single_file_table(table)
    if single is not None:
        single.unlink(missing_ok=True)


def as_spans(labels: pd.DataFrame) -> pd.DataFrame:
    """Label spans from spans (`EventStore.label_spans`) or plain labels (each holds from its arrival on)."""
    if UNTIL in labels.columns:
        return labels
    return labels.assign(**{UNTIL: pd.Series(pd.NaT, index=labels.index, dtype="datetime64[ns, UTC]")})


def view_rows(
    use_case: UseCase,
    view: str,
    events: pd.DataFrame,
    spans: pd.DataFrame | None,
    start: datetime,
    end: datetime,
    computed_at: datetime,
) -> pd.DataFrame:
    """One view's rows stamped in [start, end] from its events (and their label spans, when it uses labels); an
    empty frame of the table's columns without events."""
    declared = use_case.view_of(view)
    if events.empty:
        columns = use_case.offline_table_columns(view)
        return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})
    mine = None
    if declared.uses_labels and spans is not None:
        mine = spans[spans[EVENT_ID].isin(events[EVENT_ID])] if EVENT_ID in events.columns else spans
    return declared.compute(ViewInputs(events[list(declared.event_columns)], mine, start, end, computed_at))


def build_offline_features(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    feature_data: Path | Folder,
    start: datetime,
    end: datetime,
    computed_at: datetime,
    use_case: UseCase,
) -> dict[str, int]:
    """Compute every feature view of the use case over [start, end] from the events given, in one pass each,
    and write each table as one part (the pandas engine); rows per view. `labels` are label spans
    (`EventStore.label_spans`, every value's) or plain labels: a view that counts one value picks it out itself.
    The ray engine's partitioned build is `pipelines.features.partitions.build_from_event_store`."""
    paths = offline_table_paths(feature_data, use_case)
    spans = as_spans(labels)
    computed = {
        view.name: view_rows(use_case, view.name, events, spans, start, end, computed_at) for view in use_case.views
    }
    for view, rows in computed.items():
        write_window(rows, paths[view], start, end, EntitySlice(use_case.key_of(view), 0, 1))
        retire_other_layouts(paths[view], 1)
    logger.info("offline tables over [%s, %s]: %s", start, end, {view: len(rows) for view, rows in computed.items()})
    return {view: len(rows) for view, rows in computed.items()}
