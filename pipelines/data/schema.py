"""Columns the platform itself owns, whatever the use case: the event id and time, the label time, label spans,
the raw data files, the platform's epoch.

A use case's own columns (its entity keys, fields and label) come from its declaration
(`pipelines.core.use_case.UseCase.event_columns` and `label_columns`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP

if TYPE_CHECKING:
    import numpy as np

UNTIL = "until"  # the end of a span of time a label value was known (EventStore.label_spans)

# No time the platform stores is older than this: a time before it is a forgery or a unit error (a stamp of
# 1816 was 9999-12-31 wrapped around in nanoseconds, and an hourly feature grid from it took a machine down).
PLATFORM_EPOCH = "2000-01-01T00:00:00+00:00"

# The raw data files in a raw-data folder (the generator writes them, the contract reads them).
EVENTS_FILE = "events.parquet"
LABELS_FILE = "labels.parquet"

__all__ = [
    "CREATED_TIMESTAMP",
    "EVENTS_FILE",
    "EVENT_ID",
    "EVENT_TIMESTAMP",
    "LABELS_FILE",
    "LABEL_TIMESTAMP",
    "PLATFORM_EPOCH",
    "UNTIL",
    "offline_table",
]


def offline_table(view: str) -> str:
    """Where a view's offline table lives, relative to the Feast repo path: a folder of parquet parts, one per
    entity partition (`pipelines.features.offline_store`); Feast's file source reads the folder as one table."""
    return f"offline/{view}"


def utc_nanoseconds(values: Any) -> np.ndarray:
    """A time column as datetime64[ns] values in UTC, from a frame's column (aware of UTC) or from the arrays the
    prediction log commits (datetime64 already in UTC): the one conversion both kinds of rows go through."""
    import numpy as np

    if hasattr(values, "to_numpy"):
        return np.asarray(values.to_numpy(dtype="datetime64[ns]"))
    return np.asarray(values, dtype="datetime64[ns]")
