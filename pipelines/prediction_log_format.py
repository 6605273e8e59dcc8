"""The prediction log's format: its columns and partition layout, shared by the writer and every reader.

The model servers write it (`serving.prediction_log`); the drift check, realised quality, the skew check
and the event store read it. Served rows are the canonical record of every transaction the endpoint
answered: the event store reads served transactions from here rather than keeping a second copy.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LOGGED_AT = "logged_at"  # when the answer was logged (UTC)
ROLE = "role"  # "served" (returned to the caller) or "shadow" (challenger, logged only)
SERVED = "served"
SHADOW = "shadow"
PREDICTION = "prediction"
MODEL_VERSION = "model_version"
MODEL_ALIAS = "model_alias"
REQUEST_ID = "request_id"


def partition_dir(root: Path, moment: pd.Timestamp) -> Path:
    return root / f"date={moment:%Y-%m-%d}" / f"hour={moment:%H}"


def _partition_hour(file: Path) -> pd.Timestamp:
    return pd.Timestamp(f"{file.parent.parent.name[5:]} {file.parent.name[5:]}:00", tz="UTC")


def read_prediction_log(
    root: Path, since: pd.Timestamp | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """Every logged row (optionally from `since` on, optionally only some columns), oldest first."""
    files = sorted(root.glob("date=*/hour=*/part-*.parquet"))
    if since is not None:
        floor = since.floor("h")
        files = [f for f in files if _partition_hour(f) >= floor]
    if not files:
        return pd.DataFrame()
    wanted = None if columns is None else sorted({*columns, LOGGED_AT})
    frames = [pd.read_parquet(f, columns=_present(f, wanted)) for f in files]
    frame = pd.concat(frames, ignore_index=True)
    if since is not None:
        frame = frame[frame[LOGGED_AT] >= since]
    return frame.sort_values(LOGGED_AT, kind="stable").reset_index(drop=True)


def _present(file: Path, wanted: list[str] | None) -> list[str] | None:
    """The wanted columns this file has (older files lack newer columns; the concat fills them with nulls)."""
    if wanted is None:
        return None
    import pyarrow.parquet as pq

    names = set(pq.read_schema(file).names)
    return [c for c in wanted if c in names]
