"""The feature views computed partition by partition: entities split by id, each part on its own.

Why this gives the very table the single pass gives: every feature of an entity depends only on that
entity's own events (and, for merchants, the labels of those events), the hour lattice is the same whole
hours in every part, and a part keeps its events in their original order, so the per-cell sums add in the
same order. Rows come back sorted as `feature_engineering` sorts them (stamp, then entity), which is a
total order because a table holds one row per entity and hour.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.compute_engine import ComputeEngine
from pipelines.feature_engineering import compute_customer_stats, compute_merchant_stats
from pipelines.schema import (
    AMOUNT,
    CUSTOMER_ID,
    CUSTOMER_STATS,
    EVENT_ID,
    EVENT_TIMESTAMP,
    IS_FRAUD,
    LABEL_TIMESTAMP,
    MERCHANT_ID,
    MERCHANT_STATS,
)


def entity_partition(entity_ids: np.ndarray, partitions: int) -> np.ndarray:
    """Partition of each entity id: the id modulo `partitions` (the same in every process and on every node)."""
    return np.mod(entity_ids.astype(np.int64), partitions)


def split_by_entity(frame: pd.DataFrame, key: str, partitions: int) -> list[pd.DataFrame]:
    """The rows of each non-empty partition of `key`, in their original order."""
    part = entity_partition(frame[key].to_numpy(), partitions)
    return [frame[part == index] for index in range(partitions) if (part == index).any()]


def _merged(parts: list[pd.DataFrame], key: str) -> pd.DataFrame:
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values([EVENT_TIMESTAMP, key], kind="stable").reset_index(drop=True)


def compute_views(
    events: pd.DataFrame,
    labels: pd.DataFrame,
    start: datetime,
    end: datetime,
    computed_at: datetime,
    engine: ComputeEngine,
    partitions: int,
) -> dict[str, pd.DataFrame]:
    """Both feature views' rows stamped in [start, end]: one call per entity partition on `engine`."""
    if events.empty:
        raise ValueError("no events to compute features from")
    # Each task gets only the columns its view reads, and the merchant view only the fraud labels it counts:
    # less to serialise into the object store (event ids are strings).
    customer_events = events[[CUSTOMER_ID, MERCHANT_ID, AMOUNT, EVENT_TIMESTAMP]]
    customers = [(part, start, end, computed_at) for part in split_by_entity(customer_events, CUSTOMER_ID, partitions)]
    frauds = labels.loc[labels[IS_FRAUD] == 1, [EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP]]
    merchant_events = events[[MERCHANT_ID, AMOUNT, EVENT_TIMESTAMP, EVENT_ID]]
    merchants = [
        (part, frauds[frauds[EVENT_ID].isin(part[EVENT_ID])], start, end, computed_at)
        for part in split_by_entity(merchant_events, MERCHANT_ID, partitions)
    ]
    return {
        CUSTOMER_STATS: _merged(engine.map(compute_customer_stats, customers), CUSTOMER_ID),
        MERCHANT_STATS: _merged(engine.map(compute_merchant_stats, merchants), MERCHANT_ID),
    }
