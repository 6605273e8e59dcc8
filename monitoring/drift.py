"""One Evidently drift report: data drift per feature, prediction drift and data quality.

The reference is the training sample stored with the serving model version; the current data is the
window of the prediction log that version answered. Columns and their kinds come from the model input
definition, so a new feature is monitored as soon as the model uses it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from pipelines.data.prediction_log_format import PREDICTION
from pipelines.features.model_input import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DriftResult:
    """Evidently's verdict on one window, reduced to what the policy and the dashboard need."""

    drift_share: float
    rows: int
    column_scores: dict[str, float]
    drifted_columns: list[str]
    seconds: float
    snapshot: Any = field(repr=False)


def _drifted(method: str, score: float, threshold: float) -> bool:
    """Statistical tests report p-values (drift when below); distances report distances (drift when above)."""
    return score < threshold if "test" in method.lower() or "p_value" in method.lower() else score >= threshold


def run_drift_report(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    numeric_columns: Sequence[str] = (*NUMERIC_COLUMNS, PREDICTION),
    categorical_columns: Sequence[str] = CATEGORICAL_COLUMNS,
    metadata: dict[str, str] | None = None,
    tags: Sequence[str] = (),
) -> DriftResult:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    from monitoring.drift_tests import column_methods, column_thresholds

    numeric = [c for c in numeric_columns if c in reference.columns and c in current.columns]
    categorical = [c for c in categorical_columns if c in reference.columns and c in current.columns]
    columns = numeric + categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    started = time.perf_counter()
    drift_preset = DataDriftPreset(
        columns=columns,
        per_column_method=column_methods(numeric, categorical),
        per_column_threshold=column_thresholds(current, numeric, categorical),
    )
    snapshot = Report([drift_preset, DataSummaryPreset()], metadata=dict(metadata or {}), tags=list(tags)).run(
        current_data=Dataset.from_pandas(current[columns].reset_index(drop=True), data_definition=definition),
        reference_data=Dataset.from_pandas(reference[columns].reset_index(drop=True), data_definition=definition),
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
