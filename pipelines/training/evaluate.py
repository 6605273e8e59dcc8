"""Evaluate on a time-based holdout: the last days of labelled data, never seen in training."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from pipelines.data.schema import EVENT_TIMESTAMP


def split_by_time(frame: pd.DataFrame, holdout_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, holdout): holdout is every row in the last `holdout_days` before the newest row."""
    cutoff = frame[EVENT_TIMESTAMP].max() - timedelta(days=holdout_days)
    is_holdout = frame[EVENT_TIMESTAMP] > cutoff
    return frame.loc[~is_holdout], frame.loc[is_holdout]


def expected_calibration_error(labels: np.ndarray, scores: np.ndarray, bins: int = 10) -> float:
    """Mean gap between predicted and observed positive rate over equal-width score bins, weighted by size."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(scores, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(scores[members].mean() - labels[members].mean())
    return float(error)


def classification_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score and calibration error; AUCs are NaN when one class is missing."""
    both_classes = len(np.unique(labels)) == 2
    return {
        "roc_auc": float(roc_auc_score(labels, scores)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(labels, scores)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(labels, scores)),
        "ece": expected_calibration_error(labels, scores),
        "rows": float(len(labels)),
        "positive_rate": float(labels.mean()) if len(labels) else float("nan"),
    }


def regression_metrics(labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """MAE (the usual primary), RMSE, bias (mean of prediction - label: > 0 over-promises lateness, < 0
    under-promises), the 90th percentile of the absolute error, and the rows and label mean they were taken on.
    NaN when there are no rows."""
    labels, predictions = np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64)
    if not len(labels):
        nan = float("nan")
        return {"mae": nan, "rmse": nan, "bias": nan, "p90_abs_error": nan, "rows": 0.0, "label_mean": nan}
    error = predictions - labels
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "bias": float(error.mean()),
        "p90_abs_error": float(np.quantile(np.abs(error), 0.9)),
        "rows": float(len(labels)),
        "label_mean": float(labels.mean()),
    }
