"""Estimated quality before the labels arrive: calibration, the cohort's draws, and their intervals, checked
against simulated worlds whose truth is known (labels drawn from known probabilities, arriving late)."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.calibration import fit_calibration
from monitoring.estimated_quality import (
    ArrivalOdds,
    CohortRows,
    alerts_of,
    estimate_cohort,
    fit_cohort_shift,
    realised_metrics,
)

BUDGET = 20


def world(seed: int, rows: int = 3000, missed: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, the true probabilities behind them and labels drawn from those; `missed` adds positives the scores
    do not see (a new kind of fraud scored as the ordinary rows are)."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    truth = 1 / (1 + np.exp(-(signal * 1.8 - 4.5)))
    scores = 1 / (1 + np.exp(-(signal * 1.4 - 3.6)))  # mis-calibrated but in the right order
    labels = (rng.random(rows) < truth).astype(float)
    if missed:
        labels = np.maximum(labels, (rng.random(rows) < missed).astype(float))
    return scores, truth, labels


def arriving(
    labels: np.ndarray, seed: int, share_positive: float, share_negative: float
) -> tuple[CohortRows, ArrivalOdds]:
    """The cohort with each label arrived with its class's chance, and those chances as the arrival odds."""
    rng = np.random.default_rng(seed + 1000)
    odds = ArrivalOdds(np.full(labels.size, share_positive), np.full(labels.size, share_negative))
    arrived = rng.random(labels.size) < np.where(labels == 1, share_positive, share_negative)
    days = np.repeat(np.arange(3), -(-labels.size // 3))[: labels.size]
    return CohortRows(np.zeros(0), np.zeros(0), np.where(arrived, labels, np.nan), days), odds


def test_isotonic_calibration_shrinks_the_calibration_error() -> None:
    scores, _, labels = world(1, rows=20_000)
    calibration = fit_calibration(scores, labels, resamples=5, seed=1)
    assert calibration.ece_before > 0.01 and calibration.ece_after < calibration.ece_before / 3
    assert len(calibration.resampled) == 5 and calibration.positives == int(labels.sum())
    mapped = calibration.fitted(np.sort(scores))
    assert np.all(np.diff(mapped) >= 0), "the map is monotone: it never reorders the alerts"


def test_alerts_are_each_days_top_scores() -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.8, 0.7, 0.2])
    days = np.array([0, 0, 0, 1, 1, 1])
    assert alerts_of(scores, days, 2).tolist() == [True, False, True, True, True, False]
    assert alerts_of(scores, days, 5).all()


def test_realised_metrics_by_hand() -> None:
    labels = np.array([1, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.8, 0.3, 0.4, 0.2, 0.1])
    days = np.zeros(6)
    measured = realised_metrics(labels, scores, days, 2, values=np.array([10.0, 5, 7, 1, 1, 1]))
    assert measured["precision_at_budget"] == 0.5 and measured["value_caught"] == 10.0
    assert measured["roc_auc"] == pytest.approx(6 / 8)  # 0.9 above all four negatives, 0.3 above two


@pytest.mark.parametrize("arrived", [(0.0, 0.0), (0.05, 0.15), (0.5, 0.6)], ids=["none", "early", "half"])
def test_intervals_cover_the_realised_quality_of_healthy_cohorts(arrived: tuple[float, float]) -> None:
    """Calibration from one sample, cohorts from the same world: the 90% intervals hold the realised values
    in at least 8 of 10 cohorts, for any share of labels in."""
    scores, _, labels = world(7, rows=8000)
    calibration = fit_calibration(scores, labels, resamples=20, seed=7)
    covered = {"roc_auc": 0, "precision_at_budget": 0}
    for seed in range(10):
        cohort_scores, _, cohort_labels = world(100 + seed)
        rows, odds = arriving(cohort_labels, seed, *arrived)
        rows = CohortRows(cohort_scores, np.zeros(cohort_scores.size), rows.labels, rows.days)
        estimates = estimate_cohort(rows, calibration, odds, BUDGET, draws=200, confidence=0.9, seed=seed)
        realised = realised_metrics(cohort_labels, cohort_scores, rows.days, BUDGET)
        for metric in covered:
            covered[metric] += estimates[metric].covers(realised[metric])
    assert min(covered.values()) >= 8, covered


def test_early_labels_on_low_scores_pull_the_estimate_down_before_most_arrive() -> None:
    """A new kind of positive the scores miss: with no label in the estimate cannot see it (it trusts the scores);
    with 15% of the positives in (a fifth of the negatives), the interval lies below the healthy reference."""
    scores, _, labels = world(7, rows=8000)
    calibration = fit_calibration(scores, labels, resamples=20, seed=7)
    reference = realised_metrics(labels, scores, np.zeros(labels.size), BUDGET)["roc_auc"]
    cohort_scores, _, cohort_labels = world(11, missed=0.02)
    realised = realised_metrics(cohort_labels, cohort_scores, np.zeros(cohort_labels.size), BUDGET)["roc_auc"]
    assert realised < reference - 0.1
    estimates = {}
    for share in (0.0, 0.15):
        rows, odds = arriving(cohort_labels, 11, share, share * 4 / 3)
        rows = CohortRows(cohort_scores, np.zeros(cohort_scores.size), rows.labels, rows.days)
        assert rows.arrived_share < 0.25
        estimates[share] = estimate_cohort(rows, calibration, odds, BUDGET, draws=200, confidence=0.9, seed=3)
    assert estimates[0.0]["roc_auc"].high > reference, "no label in: nothing shows the new positives"
    assert estimates[0.15]["roc_auc"].high < reference, estimates[0.15]["roc_auc"]


def test_the_cohort_shift_stays_at_none_without_labels_and_follows_them() -> None:
    scores, truth, labels = world(3)
    nothing = np.full(labels.size, np.nan)
    none_in = fit_cohort_shift(truth, nothing, ArrivalOdds(np.zeros(labels.size), np.zeros(labels.size)))
    assert np.allclose(none_in.offsets, 0.0, atol=1e-3)
    more_positives = np.where(truth < np.median(truth), 1.0, labels)  # every low score turned out positive
    odds = ArrivalOdds(np.ones(labels.size), np.ones(labels.size))
    shifted = fit_cohort_shift(truth, more_positives, odds)
    assert shifted.offsets[0] > 2 and abs(shifted.offsets[-1]) < 1
