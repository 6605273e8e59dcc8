"""Quality of a cohort of served answers before its labels arrive: the model's calibrated scores, corrected by
the labels that did arrive, with an interval.

The estimate draws the cohort's missing labels many times and measures each draw as the realised metric would
be measured once every label is in. A draw keeps every arrived label as it is and draws a waiting one from its
probability of being positive given that it is still waiting (a fraud chargeback is slower than a settlement,
so a waiting transaction is a little more likely to be fraud than its score says; the per-class arrival curves
of monitoring/label_delay.py say by how much).

With no label yet this is confidence-based performance estimation (CBPE): it trusts the calibrated scores, and
sees harm only where the inputs moved to where the model is unsure. A new kind of fraud the model scores low is
invisible to that. The labels that come early are what show it: each draw also recalibrates the cohort, a shift
of the scores' log-odds (intercept and slope) fitted to how the labels are arriving (which arrived, which class,
and which are still waiting at what age), by maximum a posteriori around "the calibration holds", with the
shift's uncertainty (a Laplace approximation) carried into the draws. A cohort whose early labels bring fraud
on low scores pulls the estimate down long before most labels are in; a cohort whose early labels agree with
the scores keeps it. The interval holds the labels' randomness, the calibration map's (maps fitted on
resamples) and the cohort's shift.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from monitoring.calibration import Calibration

PRIOR_SD = 0.7  # how far a band's log-odds may move before the cohort's labels say so
BAND_QUANTILES = (0.5, 0.8, 0.95, 0.99)  # score bands: most rows are low scores, the alerts are the top few
ESTIMATED_METRICS = ("roc_auc", "precision_at_budget", "value_caught")


@dataclass(frozen=True)
class CohortRows:
    """One cohort's served answers: score, age (hours), the label if it arrived (NaN while waiting), the day it
    was served on (alerts are each day's top scores) and the value at stake (fraud: the amount), if any."""

    scores: np.ndarray
    ages_h: np.ndarray
    labels: np.ndarray
    days: np.ndarray
    values: np.ndarray | None = None

    @property
    def arrived(self) -> np.ndarray:
        return ~np.isnan(self.labels)

    @property
    def arrived_share(self) -> float:
        return float(self.arrived.mean()) if self.scores.size else float("nan")


@dataclass(frozen=True)
class ArrivalOdds:
    """Each row's chance that its label has arrived by its age, if it is positive and if it is negative."""

    positive: np.ndarray
    negative: np.ndarray


@dataclass(frozen=True)
class Estimate:
    """A metric's estimate (the draws' mean) and its interval."""

    metric: str
    value: float
    low: float
    high: float

    def covers(self, realised: float) -> bool:
        return self.low <= realised <= self.high

    def as_dict(self) -> dict[str, float | str]:
        return {"metric": self.metric, "value": self.value, "low": self.low, "high": self.high}


@dataclass(frozen=True)
class CohortShift:
    """Per band of calibrated scores, the log-odds offset the cohort's arrived labels support (0: the calibration
    holds) and its variance: band edges are quantiles of the cohort's scores, so every band has rows."""

    edges: np.ndarray  # log-odds edges between bands (len(offsets) - 1 of them)
    offsets: np.ndarray
    variances: np.ndarray

    def band_of(self, log_odds: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.edges, log_odds, side="right")


def estimate_cohort(
    rows: CohortRows,
    calibration: Calibration,
    odds: ArrivalOdds,
    budget: int,
    draws: int,
    confidence: float,
    seed: int,
) -> dict[str, Estimate]:
    """ROC AUC, precision at the daily alert budget and the value caught by the alerts (when the rows carry
    values), each estimated with its `confidence` interval from `draws` draws of the missing labels."""
    rng = np.random.default_rng(seed)
    shift = fit_cohort_shift(calibration.fitted(rows.scores), rows.labels, odds)
    drawn = draw_labels(rows, calibration, odds, shift, draws, rng)
    measured = measure_draws(drawn, rows.scores, rows.days, budget, rows.values)
    tail = (1.0 - confidence) / 2.0
    estimates = {}
    for metric, values in measured.items():
        finite = values[np.isfinite(values)]
        if not finite.size:
            continue
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        estimates[metric] = Estimate(metric, float(finite.mean()), float(low), float(high))
    return estimates


def realised_metrics(
    labels: np.ndarray, scores: np.ndarray, days: np.ndarray, budget: int, values: np.ndarray | None = None
) -> dict[str, float]:
    """The same metrics on known labels: what an estimate is reconciled with once the cohort matured."""
    measured = measure_draws(np.asarray(labels, dtype=np.float64)[None, :], scores, days, budget, values)
    return {metric: float(column[0]) for metric, column in measured.items()}


def fit_cohort_shift(
    probabilities: np.ndarray,
    labels: np.ndarray,
    odds: ArrivalOdds,
    prior_sd: float = PRIOR_SD,
    bands: tuple[float, ...] = BAND_QUANTILES,
) -> CohortShift:
    """Per band of scores, the offset that best explains which labels arrived with which class and which still
    wait (maximum a posteriori around "no shift"), and its Laplace variance."""
    from scipy.optimize import minimize_scalar  # lazy: only the quality job estimates

    log_odds = _log_odds(probabilities)
    edges = np.unique(np.quantile(log_odds, bands)) if log_odds.size else np.zeros(0)
    band = np.searchsorted(edges, log_odds, side="right")
    offsets, variances = np.zeros(edges.size + 1), np.full(edges.size + 1, prior_sd**2)
    for b in range(edges.size + 1):
        mine = band == b
        if not mine.any():
            continue
        objective = _band_objective(log_odds[mine], labels[mine], odds.positive[mine], odds.negative[mine], prior_sd)
        best = minimize_scalar(objective, bounds=(-6.0, 6.0), method="bounded", options={"xatol": 1e-4})
        step = 1e-3
        curvature = (objective(best.x + step) - 2 * objective(best.x) + objective(best.x - step)) / step**2
        offsets[b] = float(best.x)
        variances[b] = 1.0 / curvature if curvature > 0 else prior_sd**2
    return CohortShift(edges, offsets, variances)


def _band_objective(
    log_odds: np.ndarray,
    labels: np.ndarray,
    arrived_if_positive: np.ndarray,
    arrived_if_negative: np.ndarray,
    prior_sd: float,
) -> Callable[[float], float]:
    """Minus the log posterior of one band's offset: arrived positives, arrived negatives, and the waiting rows
    (positive and still waiting, or negative and still waiting)."""
    arrived = ~np.isnan(labels)
    positive, negative, waiting = arrived & (labels == 1), arrived & (labels == 0), ~arrived
    wait_positive, wait_negative = 1.0 - arrived_if_positive[waiting], 1.0 - arrived_if_negative[waiting]

    def objective(offset: float) -> float:
        z = log_odds + offset
        log_q, log_not_q = -np.logaddexp(0.0, -z), -np.logaddexp(0.0, z)
        still = np.exp(log_q[waiting]) * wait_positive + np.exp(log_not_q[waiting]) * wait_negative
        log_likelihood = log_q[positive].sum() + log_not_q[negative].sum() + np.log(np.maximum(still, 1e-300)).sum()
        return float((offset / prior_sd) ** 2 / 2.0 - log_likelihood)

    return objective


def draw_labels(
    rows: CohortRows,
    calibration: Calibration,
    odds: ArrivalOdds,
    shift: CohortShift,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`draws` x rows labels: arrived ones as they are, waiting ones drawn given that they are still waiting."""
    maps = calibration.resampled or (calibration.fitted,)
    band = shift.band_of(_log_odds(calibration.fitted(rows.scores)))
    offsets = shift.offsets + rng.standard_normal((draws, shift.offsets.size)) * np.sqrt(shift.variances)
    arrived = rows.arrived
    waiting_positive, waiting_negative = 1.0 - odds.positive, 1.0 - odds.negative
    drawn = np.empty((draws, rows.scores.size))
    for index in range(draws):
        z = _log_odds(maps[index % len(maps)](rows.scores)) + offsets[index, band]
        q = 1.0 / (1.0 + np.exp(-z))
        still = q * waiting_positive
        posterior = still / np.maximum(still + (1.0 - q) * waiting_negative, 1e-300)
        drawn[index] = np.where(arrived, rows.labels, rng.random(rows.scores.size) < posterior)
    return drawn


def _log_odds(probabilities: np.ndarray) -> np.ndarray:
    return np.log(probabilities / (1.0 - probabilities))


def alerts_of(scores: np.ndarray, days: np.ndarray, budget: int) -> np.ndarray:
    """Which rows are alerts: each day's top `budget` scores (every row of a day with fewer)."""
    frame_order = np.lexsort((-np.asarray(scores, dtype=np.float64), days))
    sorted_days = np.asarray(days)[frame_order]
    starts = np.r_[0, np.nonzero(sorted_days[1:] != sorted_days[:-1])[0] + 1]
    rank_in_day = np.arange(sorted_days.size) - np.repeat(starts, np.diff(np.r_[starts, sorted_days.size]))
    alerts = np.zeros(sorted_days.size, dtype=bool)
    alerts[frame_order] = rank_in_day < budget
    return alerts


def measure_draws(
    labels: np.ndarray, scores: np.ndarray, days: np.ndarray, budget: int, values: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Each metric of each row of `labels` (draws x rows) against the same scores: vectorised over the draws."""
    from scipy.stats import rankdata  # lazy: only the quality job and benches measure draws

    ranks = rankdata(scores)
    positives = labels.sum(axis=1)
    negatives = labels.shape[1] - positives
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (labels @ ranks - positives * (positives + 1) / 2.0) / (positives * negatives)
    alerts = alerts_of(scores, days, budget)
    caught = labels[:, alerts]
    measured = {
        "roc_auc": np.where((positives > 0) & (negatives > 0), auc, np.nan),
        "precision_at_budget": caught.mean(axis=1) if alerts.any() else np.full(labels.shape[0], np.nan),
    }
    if values is not None:
        measured["value_caught"] = caught @ np.asarray(values, dtype=np.float64)[alerts]
    return measured
