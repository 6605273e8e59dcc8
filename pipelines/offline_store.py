"""The offline store's parquet tables: written window by window, idempotently.

Re-running a window (a retry, a late batch, a backfill) replaces the rows stamped inside it, so the table
never holds two rows for one entity and hour. The write goes to a temporary file that replaces the table
in one rename, so a reader (a Feast retrieval) sees the old table or the new one, never half of each.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import pandas as pd

from pipelines.compute_engine import ComputeEngine
from pipelines.feature_engineering import compute_customer_stats, compute_merchant_stats
from pipelines.feature_partitions import compute_views
from pipelines.schema import CUSTOMER_STATS, EVENT_TIMESTAMP, MERCHANT_STATS, VIEW_KEYS, offline_table

logger = logging.getLogger(__name__)


def offline_table_paths(feast_repo_path: Path) -> dict[str, Path]:
    """Where each feature view's offline table lives (the Feast sources read the same paths)."""
    return {view: feast_repo_path / offline_table(view) for view in VIEW_KEYS}


def write_window(rows: pd.DataFrame, path: Path, start: datetime, end: datetime) -> int:
    """Replace the rows stamped in [start, end] with `rows`; returns the table's row count afterwards."""
    outside = rows[(rows[EVENT_TIMESTAMP] < pd.Timestamp(start)) | (rows[EVENT_TIMESTAMP] > pd.Timestamp(end))]
    if len(outside):
        raise ValueError(f"{len(outside)} rows fall outside the window [{start}, {end}]")
    parts = [rows]
    if path.exists():
        existing = pd.read_parquet(path)
        stamps = existing[EVENT_TIMESTAMP]
        parts.insert(0, existing[(stamps < pd.Timestamp(start)) | (stamps > pd.Timestamp(end))])
    table = pd.concat(parts, ignore_index=True).sort_values(EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_parquet(temporary, index=False)
    os.replace(temporary, path)
    logger.info("%s: wrote %d rows in [%s, %s], %d in total", path.name, len(rows), start, end, len(table))
    return len(table)


def build_offline_features(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    feast_repo_path: Path,
    start: datetime,
    end: datetime,
    computed_at: datetime,
    engine: ComputeEngine | None = None,
    partitions: int = 1,
) -> dict[str, int]:
    """Compute both feature views over [start, end] from all the events given and write them; rows per table.

    Without an engine (or with the pandas one) each view is one pass in this process; another engine computes
    them in `partitions` entity partitions (`pipelines.feature_partitions`), which gives the same tables."""
    paths = offline_table_paths(feast_repo_path)
    if engine is None or engine.name == "pandas":
        computed = {
            CUSTOMER_STATS: compute_customer_stats(events, start, end, computed_at),
            MERCHANT_STATS: compute_merchant_stats(events, labels, start, end, computed_at),
        }
    else:
        computed = compute_views(events, labels, start, end, computed_at, engine, partitions)
    for table, rows in computed.items():
        write_window(rows, paths[table], start, end)
    return {table: len(rows) for table, rows in computed.items()}
