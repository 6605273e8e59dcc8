"""The offline store's parquet tables: one folder per view, one part per entity partition, written window by
window, idempotently.

Re-running a window (a retry, a late batch, a backfill) replaces the rows stamped inside it, so the table never
holds two rows for one entity and hour. A part goes to a temporary file that replaces it in one rename, so a
reader (a Feast retrieval) sees each part old or new, never half of one; an entity's rows all live in one part.
Parts are named `part-<index>-of-<count>.parquet`: the pandas engine writes one (`of-00001`), the ray engine
one per partition. A build with another partition count first writes its own parts, each from the matching
rows of the old layout, then removes the old parts (until then both hold the same rows, and Feast's
point-in-time join keeps one of each: the latest `created_timestamp`). The single-file tables of earlier
versions (`offline/<view>.parquet`) are read the same way and then removed.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.entity_partitions import EntitySlice
from pipelines.feature_engineering import compute_customer_stats, compute_merchant_stats
from pipelines.schema import CUSTOMER_STATS, EVENT_TIMESTAMP, MERCHANT_STATS, VIEW_KEYS, offline_table

logger = logging.getLogger(__name__)


def offline_table_paths(feast_repo_path: Path) -> dict[str, Path]:
    """Where each feature view's offline table (a folder of parts) lives; the Feast sources read the same."""
    return {view: feast_repo_path / offline_table(view) for view in VIEW_KEYS}


def part_path(table: Path, part: EntitySlice) -> Path:
    return table / f"part-{part.index:05d}-of-{part.count:05d}.parquet"


def _single_file_table(table: Path) -> Path:
    """Where earlier versions kept the whole table in one file."""
    return table.with_name(f"{table.name}.parquet")


def read_offline_table(table: Path) -> pd.DataFrame:
    """Every row of a view's table (all parts), sorted by stamp then entity: one order whatever the layout."""
    parts = sorted(table.glob("part-*.parquet"))
    if not parts:
        raise FileNotFoundError(f"no offline table at {table}; build features first")
    frame = pd.concat([pd.read_parquet(path) for path in parts], ignore_index=True)
    return frame.sort_values([EVENT_TIMESTAMP, VIEW_KEYS[table.name]], kind="stable").reset_index(drop=True)


def read_partition(table: Path, part: EntitySlice) -> pd.DataFrame | None:
    """The part's rows as the table holds them now: its own file, or its entities' rows of another layout
    (None when the table has no rows anywhere)."""
    own = part_path(table, part)
    if own.exists():
        return pd.read_parquet(own)
    sources = sorted(table.glob("part-*.parquet")) + [f for f in [_single_file_table(table)] if f.exists()]
    frames = [part.read_parquet(source) for source in sources]
    return pd.concat(frames, ignore_index=True) if frames else None


def write_window(rows: pd.DataFrame, table: Path, start: datetime, end: datetime, part: EntitySlice) -> int:
    """Replace the part's rows stamped in [start, end] with `rows`; returns the part's row count afterwards."""
    outside = rows[(rows[EVENT_TIMESTAMP] < pd.Timestamp(start)) | (rows[EVENT_TIMESTAMP] > pd.Timestamp(end))]
    if len(outside):
        raise ValueError(f"{len(outside)} rows fall outside the window [{start}, {end}]")
    parts = [rows]
    existing = read_partition(table, part)
    if existing is not None:
        stamps = existing[EVENT_TIMESTAMP]
        parts.insert(0, existing[(stamps < pd.Timestamp(start)) | (stamps > pd.Timestamp(end))])
    written = pd.concat(parts, ignore_index=True).sort_values(EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)
    table.mkdir(parents=True, exist_ok=True)
    target = part_path(table, part)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    written.to_parquet(temporary, index=False)
    os.replace(temporary, target)
    logger.debug("%s/%s: wrote %d rows in [%s, %s], %d in total", table.name, target.name, len(rows), start, end,
                 len(written))  # fmt: skip
    return len(written)


def adopt_single_file_tables(feast_repo_path: Path) -> None:
    """Move an earlier version's single-file tables into their folders as the one part they are (exact)."""
    for view, table in offline_table_paths(feast_repo_path).items():
        single = _single_file_table(table)
        if single.exists() and not any(table.glob("part-*.parquet")):
            table.mkdir(parents=True, exist_ok=True)
            os.replace(single, part_path(table, EntitySlice(VIEW_KEYS[view], 0, 1)))
            logger.info("moved %s into %s", single, table)


def retire_other_layouts(table: Path, count: int) -> None:
    """Remove the parts of other partition counts and an earlier version's single file (after a full write)."""
    for path in table.glob("part-*.parquet"):
        if not path.name.endswith(f"-of-{count:05d}.parquet"):
            path.unlink()
    _single_file_table(table).unlink(missing_ok=True)


def build_offline_features(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    feast_repo_path: Path,
    start: datetime,
    end: datetime,
    computed_at: datetime,
) -> dict[str, int]:
    """Compute both feature views over [start, end] from the events given, in one pass each, and write each
    table as one part (the pandas engine); rows per view. The ray engine's partitioned build is
    `pipelines.feature_partitions.build_from_event_store`."""
    paths = offline_table_paths(feast_repo_path)
    computed = {
        CUSTOMER_STATS: compute_customer_stats(events, start, end, computed_at),
        MERCHANT_STATS: compute_merchant_stats(events, labels, start, end, computed_at),
    }
    for view, rows in computed.items():
        write_window(rows, paths[view], start, end, EntitySlice(VIEW_KEYS[view], 0, 1))
        retire_other_layouts(paths[view], 1)
    logger.info("offline tables over [%s, %s]: %s", start, end, {view: len(rows) for view, rows in computed.items()})
    return {view: len(rows) for view, rows in computed.items()}
