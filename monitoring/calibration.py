"""Scores as probabilities: an isotonic map fitted on matured labels, measured before and after.

A classifier's score is only an estimate of quality's raw material if it means what it says: of the answers
scored 0.2, a fifth are positive. Boosted trees come close but not exactly, and what is close on average can be
far in the tail the alerts come from. So the map from score to probability is fitted (scikit-learn's isotonic
regression: monotone, so it never reorders the alerts) on answers whose labels have matured: early labels are a
biased sample when classes arrive at different speeds. Its calibration error (ECE) before and after is kept with
it, and so are maps fitted on resamples of the same rows: the estimate's interval carries the map's own
uncertainty, which is large where positives are few.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBABILITY_FLOOR = 1e-4  # never certain either way: a map fitted on finitely many rows cannot know that


@dataclass(frozen=True)
class IsotonicMap:
    """A monotone step map from score to probability (the fitted isotonic regression's knots)."""

    knots_x: np.ndarray
    knots_y: np.ndarray

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        probabilities = np.interp(np.asarray(scores, dtype=np.float64), self.knots_x, self.knots_y)
        return np.clip(probabilities, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)


@dataclass(frozen=True)
class Calibration:
    """The fitted map, maps fitted on resamples of its rows, and how well the scores were calibrated before and
    after, on the rows it was fitted on."""

    fitted: IsotonicMap
    resampled: tuple[IsotonicMap, ...]
    rows: int
    positives: int
    ece_before: float
    ece_after: float

    def summary(self) -> dict[str, float | int]:
        return {
            "rows": self.rows,
            "positives": self.positives,
            "ece_before": round(self.ece_before, 6),
            "ece_after": round(self.ece_after, 6),
        }


def fit_calibration(scores: np.ndarray, labels: np.ndarray, resamples: int, seed: int) -> Calibration:
    """The isotonic map over (score, matured label) pairs, and `resamples` maps over bootstrap resamples."""
    from pipelines.training.evaluate import expected_calibration_error  # lazy: pulls scikit-learn

    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    fitted = _isotonic(scores, labels)
    rng = np.random.default_rng(seed)
    resampled = []
    for _ in range(resamples):
        pick = rng.integers(0, scores.size, scores.size)
        resampled.append(_isotonic(scores[pick], labels[pick]))
    return Calibration(
        fitted=fitted,
        resampled=tuple(resampled),
        rows=int(scores.size),
        positives=int(labels.sum()),
        ece_before=expected_calibration_error(labels, scores),
        ece_after=expected_calibration_error(labels, fitted(scores)),
    )


def _isotonic(scores: np.ndarray, labels: np.ndarray) -> IsotonicMap:
    from sklearn.isotonic import IsotonicRegression  # lazy: the monitor's status command never fits one

    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, labels)
    return IsotonicMap(np.asarray(model.X_thresholds_, dtype=np.float64), np.asarray(model.y_thresholds_))
