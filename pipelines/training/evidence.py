"""The gate's evidence: how much better a candidate is than the champion on one holdout, with an interval.

Both models are scored on the same rows, so the rows are resampled once for both (a paired bootstrap): what
they share (a hard day, a rare fraud) cancels, and the interval is the difference's, not each model's noise.
A resample is a vector of counts over the rows, so each metric is a weighted sum over rows sorted once, never a
re-sort per resample. Measured on this 2-core machine, 1000 resamples of precision at budget: 0.4 s for 3000 rows,
0.5-1.1 s for 15000, where `scipy.stats.bootstrap(paired=True)` with a statistic that sorts each resample took
0.8 s and 8.4 s.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# The metrics the gate can compare on, and their direction (the use case's contract lists which suit a label kind).
HIGHER_IS_BETTER = {"roc_auc": True, "precision_at_budget": True, "mae": False}
CHUNK_CELLS = 4_000_000  # resamples x rows held at once: bounds memory (~100 MB of int32 and float64 arrays)


@dataclass(frozen=True)
class Improvement:
    """The candidate's improvement over the champion on the evidence metric, oriented so that positive means the
    candidate is better (MAE: the champion's minus the candidate's).

    `candidate` and `champion` are the metric on the holdout itself and `point` their difference; `low` and
    `high` bound the resampled differences at `confidence` (two-sided percentile interval). `positives` counts
    the holdout's positive labels (None for a regression), `rows` its rows. When a resample leaves the metric
    undefined (ROC AUC with one class) there is no interval: `low` and `high` are NaN and `undefined` says why.
    """

    metric: str
    candidate: float
    champion: float
    point: float
    low: float
    high: float
    confidence: float
    positives: int | None
    rows: int
    resamples: int
    undefined: str = ""

    @property
    def label(self) -> str:
        """The metric as people write it: ROC AUC, precision at budget, MAE."""
        return {"roc_auc": "ROC AUC", "mae": "MAE"}.get(self.metric, self.metric.replace("_", " "))

    @property
    def interval(self) -> str:
        """`[low, high]` as text (a model version tag, `monitor status`)."""
        return f"[{self.low:+.4f}, {self.high:+.4f}]"

    @property
    def width(self) -> float:
        return self.high - self.low


def precision_at_budget(labels: Any, scores: Any, days: Any, budget: int) -> float:
    """Each day, its top-`budget` scores are the alerts (all its rows when fewer); the pooled share of alerts
    that are positive. What a team that works `budget` alerts a day finds: ranking matters only at the top."""
    labels, scores = np.asarray(labels, dtype=np.float64), np.asarray(scores, dtype=np.float64)
    rows = _Rows.of(labels, scores, _day_codes(days))
    return float(rows.precision_at_budget(np.ones((1, len(labels)), dtype=np.int32), budget)[0])


def alerts_at_budget(scores: Any, days: Any, budget: int) -> NDArray[np.bool_]:
    """Which rows are alerts: each day's top-`budget` scores (all its rows when fewer), ties in row order. The
    rows `precision_at_budget` counts, for a reader who asks which positives were caught, not only how many."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = _Rows.of(np.zeros(len(scores)), scores, _day_codes(days))
    alerted = np.zeros(len(scores), dtype=bool)
    alerted[rows.by_day_top] = np.arange(len(scores)) - rows.day_start < budget
    return alerted


def paired_improvement(
    labels: Any,
    candidate_scores: Any,
    champion_scores: Any,
    days: Any,
    metric: str,
    budget: int | None = None,
    higher_is_better: bool | None = None,
    resamples: int = 1000,
    confidence: float = 0.90,
    seed: int = 0,
) -> Improvement:
    """The candidate's improvement over the champion on `metric`, with a paired percentile bootstrap interval.

    `days` (one label per row, e.g. the event day) matters only to `precision_at_budget`, which needs `budget`.
    `higher_is_better` defaults to the metric's own direction. Seeded: the same inputs give the same interval.
    """
    if metric not in HIGHER_IS_BETTER:
        raise ValueError(f"unknown evidence metric {metric!r}: one of {sorted(HIGHER_IS_BETTER)}")
    if metric == "precision_at_budget" and (budget is None or budget < 1):
        raise ValueError(f"precision_at_budget needs an alert budget >= 1, got {budget!r}")
    if not 0 < confidence < 1 or resamples < 1:
        raise ValueError(f"need 0 < confidence < 1 and resamples >= 1, got {confidence} and {resamples}")
    y = np.asarray(labels, dtype=np.float64)
    cand, champ = np.asarray(candidate_scores, dtype=np.float64), np.asarray(champion_scores, dtype=np.float64)
    if not len(y) == len(cand) == len(champ):
        raise ValueError(f"labels and scores differ in length: {len(y)}, {len(cand)}, {len(champ)}")
    higher = HIGHER_IS_BETTER[metric] if higher_is_better is None else higher_is_better
    codes = _day_codes(days) if metric == "precision_at_budget" else np.zeros(len(y), dtype=np.int64)
    models = (_Rows.of(y, cand, codes), _Rows.of(y, champ, codes))
    positives = None if metric == "mae" else int(y.sum())

    def improvement(counts: NDArray[np.int32]) -> NDArray[np.float64]:
        ours, theirs = (_metric(rows, metric, counts, budget) for rows in models)
        return ours - theirs if higher else theirs - ours

    once = np.ones((1, len(y)), dtype=np.int32)
    candidate, champion = (float(_metric(rows, metric, once, budget)[0]) for rows in models)
    point = float(improvement(once)[0])
    found = np.concatenate([improvement(counts) for counts in _resample_counts(len(y), resamples, seed)])
    undefined = int(np.isnan(found).sum())
    low = high = float("nan")
    why = ""
    if math.isnan(point) or undefined:
        where = "the holdout" if math.isnan(point) else f"{undefined} of {resamples} resamples"
        why = f"{metric} is undefined on {where}" + (" (a single class)" if metric == "roc_auc" else " (no rows)")
    else:
        tail = (1 - confidence) / 2
        low, high = (float(bound) for bound in np.quantile(found, [tail, 1 - tail]))
    return Improvement(metric, candidate, champion, point, low, high, confidence, positives, len(y), resamples, why)


def _metric(rows: _Rows, metric: str, counts: NDArray[np.int32], budget: int | None) -> NDArray[np.float64]:
    if metric == "roc_auc":
        return rows.roc_auc(counts)
    if metric == "precision_at_budget":
        return rows.precision_at_budget(counts, int(budget or 0))
    return rows.mae(counts)


def _resample_counts(rows: int, resamples: int, seed: int) -> Iterator[NDArray[np.int32]]:
    """Bootstrap resamples as counts per row (resamples x rows), a chunk at a time: drawing `rows` row indices
    with replacement and counting each row's draws is resampling the rows."""
    rng = np.random.default_rng(seed)
    chunk = max(1, CHUNK_CELLS // max(rows, 1))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        drawn = rng.integers(0, rows, size=(size, rows)) + (np.arange(size) * rows)[:, None]
        yield np.bincount(drawn.ravel(), minlength=size * rows).reshape(size, rows).astype(np.int32)


def _day_codes(days: Any) -> NDArray[np.int64]:
    return np.unique(np.asarray(days), return_inverse=True)[1].astype(np.int64).ravel()


def _precision_at_budget(
    counts: NDArray[np.int32], budget: int, order: NDArray[np.int64], day_start: NDArray[np.int64],
    labels: NDArray[np.float64],
) -> NDArray[np.float64]:  # fmt: skip
    """Precision at budget per resample over the rows `order` names (by day, then score descending), each
    position's day starting at `day_start`."""
    ordered = counts[:, order].astype(np.int64)
    running = np.cumsum(ordered, axis=1)
    before_day = np.concatenate([np.zeros((len(counts), 1), np.int64), running], axis=1)[:, day_start]
    earlier_today = running - ordered - before_day
    alerts = np.clip(budget - earlier_today, 0, ordered)
    worked = alerts.sum(axis=1)
    caught = alerts @ labels[order]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(worked > 0, caught / np.maximum(worked, 1), np.nan)


def _day_starts(sorted_days: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per position of rows sorted by day: the position its day starts at."""
    if not len(sorted_days):
        return np.array([], dtype=np.int64)
    first = np.flatnonzero(np.r_[True, sorted_days[1:] != sorted_days[:-1]])
    return np.repeat(first, np.diff(np.r_[first, len(sorted_days)]))


@dataclass(frozen=True)
class _Rows:
    """One model's scores on the holdout, sorted once for every metric's weighted form."""

    labels: NDArray[np.float64]
    scores: NDArray[np.float64]
    by_day_top: NDArray[np.int64]  # row order: day, then score descending (ties: row order)
    day_start: NDArray[np.int64]  # per row of that order: the position its day starts at
    ascending: NDArray[np.int64]  # row order by score ascending
    tie_starts: NDArray[np.int64]  # positions in `ascending` where a new score value starts

    @classmethod
    def of(cls, labels: NDArray[np.float64], scores: NDArray[np.float64], days: NDArray[np.int64]) -> _Rows:
        by_day_top = np.lexsort((np.arange(len(scores)), -scores, days))
        day_start = _day_starts(days[by_day_top])
        ascending = np.argsort(scores, kind="stable")
        ranked = scores[ascending]
        tie_starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if len(scores) else np.array([], int)
        return cls(labels, scores, by_day_top, day_start, ascending, tie_starts)

    def precision_at_budget(self, counts: NDArray[np.int32], budget: int) -> NDArray[np.float64]:
        """Per resample: a row drawn k times is k alerts, taken in score order until the day's budget is spent.

        Only each day's top rows can be alerts: the budget is spent within them unless the rows below are
        reached, which takes the top `2 * budget + 64` rows drawing fewer than `budget` times in all (a mean of
        one draw a row). Those rows are computed first; a resample where some day did not spend its budget
        within them is computed again over every row, so the result is exact (with a day of 1,600 rows and a
        budget of 100 this is a sixth of the work)."""
        within_day = np.arange(len(self.by_day_top)) - self.day_start
        top = within_day < 2 * budget + 64
        if top.all():
            return _precision_at_budget(counts, budget, self.by_day_top, self.day_start, self.labels)
        kept = self.by_day_top[top]
        kept_start = _day_starts(self.day_start[top])  # a day's start position names the day
        precision = _precision_at_budget(counts, budget, kept, kept_start, self.labels)
        cut_days = np.unique(self.day_start[~top])  # days with rows below their top
        cut_firsts = np.searchsorted(self.day_start[top], cut_days)  # where each starts among the kept rows
        firsts = np.unique(kept_start)
        drawn_per_day = np.add.reduceat(counts[:, kept], firsts, axis=1)  # resamples x days
        short = (drawn_per_day[:, np.searchsorted(firsts, cut_firsts)] < budget).any(axis=1)
        if short.any():
            precision[short] = _precision_at_budget(
                counts[short], budget, self.by_day_top, self.day_start, self.labels
            )  # fmt: skip
        return precision

    def roc_auc(self, counts: NDArray[np.int32]) -> NDArray[np.float64]:
        """Per resample: the weighted Mann-Whitney statistic (a tie counts one half); NaN with one class."""
        ordered = counts[:, self.ascending].astype(np.float64)
        positive = self.labels[self.ascending]
        pos = np.add.reduceat(ordered * positive, self.tie_starts, axis=1)
        neg = np.add.reduceat(ordered * (1 - positive), self.tie_starts, axis=1)
        below = np.cumsum(neg, axis=1) - neg
        pairs = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, (pos * (below + 0.5 * neg)).sum(axis=1) / np.maximum(pairs, 1), np.nan)

    def mae(self, counts: NDArray[np.int32]) -> NDArray[np.float64]:
        """Per resample: the mean absolute error over the drawn rows (scores are the predictions)."""
        drawn = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(drawn > 0, (counts @ np.abs(self.scores - self.labels)) / np.maximum(drawn, 1), np.nan)
