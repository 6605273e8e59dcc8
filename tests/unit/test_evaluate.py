from __future__ import annotations

import numpy as np
import pandas as pd

from pipelines.training.evaluate import classification_metrics, expected_calibration_error, split_by_time


def test_holdout_is_the_last_days_and_disjoint() -> None:
    stamps = pd.date_range("2026-01-01", periods=10 * 24, freq="h", tz="UTC")
    frame = pd.DataFrame({"event_timestamp": stamps, "x": range(len(stamps))})
    train, holdout = split_by_time(frame, holdout_days=3)
    assert len(train) + len(holdout) == len(frame)
    assert train["event_timestamp"].max() < holdout["event_timestamp"].min()
    assert holdout["event_timestamp"].min() > stamps[-1] - pd.Timedelta(days=3)


def test_metrics_of_a_perfect_and_a_useless_scorer() -> None:
    labels = np.array([0, 0, 1, 1, 0, 1])
    perfect = classification_metrics(labels, labels.astype(float))
    assert perfect["roc_auc"] == 1.0
    assert perfect["pr_auc"] == 1.0
    assert perfect["brier"] == 0.0
    flat = classification_metrics(labels, np.full(6, 0.5))
    assert flat["roc_auc"] == 0.5


def test_calibration_error_is_zero_when_rates_match() -> None:
    labels = np.array([1, 0, 0, 0])
    assert expected_calibration_error(labels, np.full(4, 0.25)) == 0.0
    assert round(expected_calibration_error(labels, np.full(4, 0.75)), 6) == 0.5


def test_one_class_holdout_gives_nan_auc_not_an_error() -> None:
    metrics = classification_metrics(np.zeros(5), np.linspace(0, 1, 5))
    assert np.isnan(metrics["roc_auc"])
