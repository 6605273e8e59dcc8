"""Which join builds the training set of a validated snapshot: the as-of join of the offline tables (in this
process with the `pandas` engine, one task per partition of the first entity with `ray`), or, when
`DRIFTLOOP_TRAINING_SET_JOIN=feast`, Feast's `get_historical_features` in this process. All write the same rows,
columns and types in the same order (tests hold the as-of join to Feast's answer)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.core.use_case import load_use_case
from pipelines.data.storage import feature_data_folder, scratch_folder
from pipelines.features.compute_engine import ComputeEngine
from pipelines.features.offline_store import missing_tables, offline_table_paths, streamed_tables
from pipelines.features.store import open_feature_store
from pipelines.features.training_partitions import build_partitioned, offline_vectors
from pipelines.features.training_set import (
    build_training_set,
    in_training_order,
    labelled_events,
    log_coverage,
    point_in_time_features,
)


def training_set_from_snapshot(
    settings: Settings, events_path: Path, labels_path: Path, label_maturity_days: int, engine: ComputeEngine
) -> pd.DataFrame:
    """The snapshot's labelled, mature events joined point-in-time to their features."""
    use_case = load_use_case(settings.use_case)
    feature_data = feature_data_folder(settings)
    tables = offline_table_paths(feature_data, use_case)
    missing = missing_tables(feature_data, use_case)
    if missing:
        raise DriftloopError(f"no offline feature table at {', '.join(missing)}: run `driftloop features build` first")
    if engine.name == "pandas" and settings.training_set_join == "feast":
        events, labels = pd.read_parquet(events_path), pd.read_parquet(labels_path)
        labelled = labelled_events(events, labels, label_maturity_days, use_case)
        streamed = streamed_tables(feature_data, use_case)
        return build_training_set(open_feature_store(settings), labelled, use_case, streamed)
    # In this process one partition: partitions bound a Ray task's working set, here they would only add reads.
    partitions = settings.feature_partitions if engine.name == "ray" else 1
    scratch = scratch_folder(settings)
    joined = build_partitioned(
        events_path, labels_path, tables, label_maturity_days, engine, partitions, scratch, use_case
    )
    frame = in_training_order(joined, use_case)
    log_coverage(frame)
    return frame


def offline_point_in_time(settings: Settings, rows: pd.DataFrame) -> pd.DataFrame:
    """`rows` with the offline point-in-time features of the hourly views, joined as the training set is
    (`DRIFTLOOP_TRAINING_SET_JOIN`): what the skew check holds the served features against."""
    use_case = load_use_case(settings.use_case)
    if settings.training_set_join == "feast":
        return point_in_time_features(open_feature_store(settings), rows, use_case)
    return offline_vectors(offline_table_paths(feature_data_folder(settings), use_case), rows, use_case)
