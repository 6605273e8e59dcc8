"""One Evidently drift report: data drift per feature, prediction drift and data quality.

The reference is the training sample stored with the serving model version; the current data is the
window of the prediction log that version answered. Columns and their kinds come from the model input
definition, so a new feature is monitored as soon as the model uses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from monitoring.drift_tests import column_methods, column_thresholds, entity_keys_of_features
from pipelines.core.use_case import UseCase
from pipelines.data.prediction_log_format import LOGGED_AT, PREDICTION
from pipelines.data.schema import EVENT_ID

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftResult:
    """Evidently's verdict on one window, reduced to what the policy and the dashboard need."""

    drift_share: float
    rows: int
    column_scores: dict[str, float]
    drifted_columns: list[str]
    seconds: float
    snapshot: Any = field(default=None, repr=False)  # None: an earlier check's report, already saved

    def record(self) -> dict[str, Any]:
        """What a later check over the same answers needs of this report (`served_rows_fingerprint`)."""
        return {"drift_share": self.drift_share, "rows": self.rows, "column_scores": self.column_scores,
                "drifted_columns": self.drifted_columns}  # fmt: skip

    @classmethod
    def of_record(cls, record: Mapping[str, Any]) -> DriftResult:
        return cls(float(record["drift_share"]), int(record["rows"]), dict(record["column_scores"]),
                   list(record["drifted_columns"]), 0.0)  # fmt: skip


def served_rows_fingerprint(version: str, rows: pd.DataFrame, columns: MonitoredColumns) -> str:
    """Which answers a drift report was over: the version, the watched columns and the set of logged rows (each
    answer's event id and logging time), in any order. Logged answers never change, so a check whose window
    holds exactly the last report's answers (labels came back, no new traffic) would compute that report again."""
    hashed = pd.util.hash_pandas_object(rows[[EVENT_ID, LOGGED_AT]], index=False).to_numpy(dtype="uint64")
    digest = hashlib.sha256(json.dumps([version, list(columns.numeric), list(columns.categorical)]).encode())
    digest.update(np.sort(hashed).tobytes())  # the multiset of rows itself, not a sum that two sets may share
    return digest.hexdigest()


def _drifted(method: str, score: float, threshold: float) -> bool:
    """Statistical tests report p-values (drift when below); distances report distances (drift when above)."""
    return score < threshold if "test" in method.lower() or "p_value" in method.lower() else score >= threshold


@dataclass(frozen=True)
class MonitoredColumns:
    """What the drift report watches: the model's numeric inputs and its prediction, its categories, and which
    entity each feature column belongs to (its threshold follows the number of distinct entities)."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    entity_of: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, use_case: UseCase) -> MonitoredColumns:
        model_input = use_case.model_input
        return cls((*model_input.numeric, PREDICTION), model_input.categorical, entity_keys_of_features(use_case))


def run_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    columns: MonitoredColumns,
    metadata: dict[str, str] | None = None,
    tags: Sequence[str] = (),
) -> DriftResult:
    """Drift of each monitored column, with its test and threshold, over the reference and the window."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue, MissingValueCount, RowCount
    from evidently.presets import DataDriftPreset

    numeric = [c for c in columns.numeric if c in reference.columns and c in current.columns]
    categorical = [c for c in columns.categorical if c in reference.columns and c in current.columns]
    watched = numeric + categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    started = time.perf_counter()
    drift_preset = DataDriftPreset(
        columns=watched,
        per_column_method=column_methods(numeric, categorical),
        per_column_threshold=column_thresholds(current, numeric, categorical, columns.entity_of),
    )
    # Data quality as the dashboard and the policy read it: rows, missing values per column, the mean score.
    # Not Evidently's DataSummaryPreset: it draws a distribution figure for each statistic of each column (over
    # half of a check's report time), the drift preset's table already shows each column's distributions.
    quality = [RowCount(), *(MissingValueCount(column=column) for column in watched)]
    if PREDICTION in numeric:
        quality.append(MeanValue(column=PREDICTION))
    snapshot = Report([drift_preset, *quality], metadata=dict(metadata or {}), tags=list(tags)).run(
        current_data=Dataset.from_pandas(current[watched].reset_index(drop=True), data_definition=definition),
        reference_data=Dataset.from_pandas(reference[watched].reset_index(drop=True), data_definition=definition),
        timestamp=datetime.now(UTC).replace(tzinfo=None),  # naive UTC, like every snapshot of ours
    )
    seconds = time.perf_counter() - started
    share, scores, drifted = 0.0, {}, []
    for metric in snapshot.dict()["metrics"]:
        config = metric.get("config", {})
        kind = str(config.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif kind.endswith("ValueDrift"):
            column, score = str(config["column"]), float(metric["value"])
            scores[column] = score
            if _drifted(str(config.get("method", "")), score, float(config.get("threshold", 0.1))):
                drifted.append(column)
    logger.info("drift report: share %.2f over %d rows (%s drifted) in %.1fs", share, len(current), drifted, seconds)
    return DriftResult(share, len(current), scores, drifted, seconds, snapshot)
