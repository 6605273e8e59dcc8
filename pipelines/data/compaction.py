"""Compaction: the many small parts of the event store and the prediction log become few, safely for readers.

Every landing, label request and prediction-log flush adds a small part; left alone, every reader lists and
opens more files each hour. Within one folder (a day of landed events, the labels, an hour of the prediction
log) the small parts are concatenated in name order (the order readers see them) and published, durably, as one
`part-*.compacted.parquet` whose footer names the parts it replaces; then those are deleted. A reader
(`pipelines.data.part_set`) leaves out the parts a listed compacted file names, so it reads every row exactly once
whether it listed before the compacted file appeared, between, or after the inputs went; one that listed an
input the compaction has since deleted lists again. A crash after the publication leaves inputs a compacted
file names: readers already skip them, and the next run deletes them.

Runs with the feature refresh, under its lock (two compactions never overlap); writers keep landing meanwhile,
and their new parts are simply not in this run's list. Landed and label parts are compacted only once the
refresh has taken their landing records in (`eligible`), so a compacted part adds nothing the refresh has not
seen (its record is a `compaction`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from pipelines.data import landing_records
from pipelines.data.crash_points import crash_point
from pipelines.data.event_store import EventStore
from pipelines.data.landing_records import Landing
from pipelines.data.part_set import COMPACTED_SUFFIX, RETIRES_KEY, PartSet, PartVanished, folder_of, is_compacted
from pipelines.data.storage import unique_part_name

if TYPE_CHECKING:
    import pyarrow as pa

logger = logging.getLogger(__name__)

SMALL_ROWS = 250_000  # a part below this many rows is merged with its small neighbours
MIN_PARTS = 2
STALE_TEMPORARY_S = 3600.0  # a writer's hidden temporary this old belongs to a writer that was killed


@dataclass
class CompactionOutcome:
    """What one run did: folders compacted, parts replaced, compacted parts written, rows they hold."""

    folders: int = 0
    parts_in: int = 0
    parts_out: int = 0
    rows: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: CompactionOutcome) -> None:
        self.folders += other.folders
        self.parts_in += other.parts_in
        self.parts_out += other.parts_out
        self.rows += other.rows
        self.errors += other.errors


def compact_event_store(store: EventStore, seen: set[str]) -> dict[str, CompactionOutcome]:
    """Compact the landed events and labels the refresh has seen (`seen`: `landed/<name>`, `labels/<name>`),
    and the prediction log. A part set that fails (say, a read-only prediction log) is reported, not raised."""
    runs: dict[str, tuple[PartSet, Callable[[str], bool]]] = {
        "landed": (store.landed, lambda name: f"landed/{name}" in seen),
        "labels": (store.label_parts, lambda name: f"labels/{name}" in seen),
        "predictions": (store.served, lambda name: True),
    }
    outcomes = {}
    for area, (parts, eligible) in runs.items():
        try:
            outcomes[area] = compact(parts, eligible)
        except (OSError, PartVanished) as error:
            logger.warning("compaction of %s stopped: %s", parts.folder, error)
            outcomes[area] = CompactionOutcome(errors=[f"{type(error).__name__}: {error}"])
    return outcomes


def compact(parts: PartSet, eligible: Callable[[str], bool] = lambda name: True) -> CompactionOutcome:
    """One run over a part set: in each folder with at least two small eligible parts, replace them by one."""
    finish_retirements(parts)
    remove_stale_temporaries(parts)
    by_folder: dict[str, list[str]] = {}
    for name in parts.live():
        if eligible(name):
            by_folder.setdefault(folder_of(name), []).append(name)
    outcome = CompactionOutcome()
    for folder, names in sorted(by_folder.items()):
        small = [name for name in names if _rows(parts, name) < SMALL_ROWS]
        if len(small) >= MIN_PARTS:
            outcome.add(_compact_folder(parts, folder, small))
    return outcome


def finish_retirements(parts: PartSet) -> int:
    """Delete the parts a compacted file replaced that are still there (a run stopped after publishing)."""
    listed = parts.listing()
    stale: set[str] = set()
    for name in listed:
        if is_compacted(name):
            stale |= parts.retired_by(name) & set(listed)
    for name in sorted(stale):
        parts.folder.delete(name)
    return len(stale)


def remove_stale_temporaries(parts: PartSet) -> int:
    """Delete the hidden temporary files writers killed before their rename left behind (local folders; hidden
    folders, such as the prediction log's segments, are not entered)."""
    if parts.folder.remote:
        return 0
    removed = 0
    cutoff = time.time() - STALE_TEMPORARY_S
    for folder, directories, files in os.walk(parts.folder.local_path):
        directories[:] = [name for name in directories if not name.startswith(".")]
        for name in files:
            path = os.path.join(folder, name)
            if name.startswith(".") and name.endswith(".tmp") and os.stat(path).st_mtime < cutoff:
                os.unlink(path)
                removed += 1
    return removed


def _rows(parts: PartSet, name: str) -> int:
    """A part's rows from its footer; an unreadable part is set aside (and counts as large: left out)."""
    ok, rows = parts.read_one(name, lambda name: parts.folder.read_footer(name).num_rows)
    return int(rows) if ok and rows is not None else SMALL_ROWS


def _compact_folder(parts: PartSet, folder: str, names: list[str]) -> CompactionOutcome:
    import pyarrow as pa

    read: list[tuple[str, pa.Table]] = []
    for name in names:
        ok, table = parts.read_one(name, parts.folder.read_table)
        if ok and table is not None:
            read.append((name, table))
    if len(read) < MIN_PARTS:
        return CompactionOutcome()
    tables = [table for _, table in read]
    merged = pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="permissive")
    inputs = [name for name, _ in read]
    record = Landing(
        landing_records.COMPACTION, f"compaction of {len(inputs)} parts", pd.Timestamp.now(tz="UTC").isoformat(),
        merged.num_rows, None, None,
    )  # fmt: skip
    # A compacted input's own list is carried forward: a part it replaced that comes back under its old name
    # (the prediction log republishing a segment after a crash) must stay replaced.
    retired = set(inputs).union(*(parts.retired_by(name) for name in inputs if is_compacted(name)))
    metadata = {
        **_pandas_metadata(tables),
        RETIRES_KEY: json.dumps(sorted(name[len(folder) :] for name in retired)).encode(),
        **landing_records.encode(record),
    }
    target = folder + unique_part_name(COMPACTED_SUFFIX)
    parts.folder.write_table(merged.replace_schema_metadata(metadata), target)
    crash_point("compaction.published")
    for name in inputs:
        parts.folder.delete(name)
    logger.info("compacted %d parts of %s (%d rows) into %s", len(inputs), parts.folder.uri(folder), merged.num_rows,
                target)  # fmt: skip
    return CompactionOutcome(folders=1, parts_in=len(inputs), parts_out=1, rows=merged.num_rows)


def _pandas_metadata(tables: list[pa.Table]) -> dict[bytes, bytes]:
    """The inputs' pandas metadata (column dtypes for readers) when they all share one schema; else none."""
    schemas = [table.schema for table in tables]
    first = schemas[0]
    if all(schema.equals(first) for schema in schemas[1:]) and first.metadata and b"pandas" in first.metadata:
        return {b"pandas": first.metadata[b"pandas"]}
    return {}
