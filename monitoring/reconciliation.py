"""Each estimate of served quality, held to the realised value once the labels of the answers it judged are in:
the estimation error is a metric like any other.

The drift check records its estimate with the answers it covered (a version's, logged in [start, end)). When
those answers' labels have come in (`MATURE_SHARE` of them), the same metrics are measured on the real labels
and set beside the estimate made when few were in: the error, and whether the interval held the truth. Written
as `estimation_error.csv` beside realised quality and exported as gauges, so a drifting estimator shows like a
drifting model.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.estimated_quality import realised_metrics
from monitoring.estimation_inputs import served_answers
from pipelines.core.use_case import EVENT_ID, Skip, UseCase
from pipelines.data.prediction_log_format import LOGGED_AT, PREDICTION

RECONCILIATION_FILE = "estimation_error.csv"
MATURE_SHARE = 0.95  # an estimate is reconciled once this share of its answers' labels is in
RECONCILIATION_COLUMNS = [
    "model_version", "start", "end", "estimated_with_labels_in", "metric", "estimate", "low", "high", "realised",
    "error", "covered",
]  # fmt: skip


def reconcile(
    decisions: Iterable[dict[str, Any]], log: pd.DataFrame, labels: pd.DataFrame, use_case: UseCase
) -> pd.DataFrame:
    """One row per (estimate, metric) whose answers' labels are in, with the realised value and the error."""
    label = use_case.label.name
    current = labels.drop_duplicates(EVENT_ID).set_index(EVENT_ID)[label]
    value_field = use_case.metric.value_field
    rows: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for decision in decisions:
        estimate = decision.get("estimate")
        version = str(decision.get("model_version", ""))
        if not estimate or not estimate.get("start") or (version, estimate["start"], estimate["end"]) in seen:
            continue
        seen.add((version, estimate["start"], estimate["end"]))
        start, end = pd.Timestamp(estimate["start"]), pd.Timestamp(estimate["end"])
        served = served_answers(log, version)
        served = served[(served[LOGGED_AT] >= start) & (served[LOGGED_AT] < end)]
        truth = served[EVENT_ID].map(current).to_numpy(np.float64)
        if not len(served) or np.mean(~np.isnan(truth)) < MATURE_SHARE:
            continue
        known = ~np.isnan(truth)
        values = None
        if not isinstance(value_field, Skip) and value_field in served.columns:
            values = served[value_field].to_numpy(np.float64)[known]
        realised = realised_metrics(
            truth[known], served[PREDICTION].to_numpy(np.float64)[known],
            served[LOGGED_AT].dt.floor("D").to_numpy()[known], int(estimate["budget"]), values,
        )  # fmt: skip
        for metric, made in estimate["estimates"].items():
            actual = realised.get(metric, float("nan"))
            rows.append({
                "model_version": version, "start": estimate["start"], "end": estimate["end"],
                "estimated_with_labels_in": estimate["arrived_share"], "metric": metric, "estimate": made["value"],
                "low": made["low"], "high": made["high"], "realised": actual, "error": made["value"] - actual,
                "covered": bool(made["low"] <= actual <= made["high"]),
            })  # fmt: skip
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def load_reconciliation(folder: Path) -> list[dict[str, Any]]:
    """The last reconciliation the quality job wrote (empty before one)."""
    path = folder / RECONCILIATION_FILE
    if not path.exists() or path.stat().st_size == 0:
        return []
    return [{str(key): value for key, value in row.items()} for row in pd.read_csv(path).to_dict("records")]
