"""The gate's evidence: precision at budget, the paired bootstrap and its orientation, on small frames by hand
and on simulated scores whose truth is known."""

from __future__ import annotations

import math
import re
import time

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pipelines.training.evidence import (
    Improvement,
    _day_codes,
    _resample_counts,
    _Rows,
    alerts_at_budget,
    paired_improvement,
    precision_at_budget,
)


def test_precision_at_budget_by_hand() -> None:
    """Day 1: 4 rows, budget 2: the alerts are the scores 0.9 (fraud) and 0.8 (not). Day 2: one row, fewer than
    the budget, so it is the alert (fraud). Pooled: 2 fraud among 3 alerts."""
    labels = [1, 0, 1, 0, 1]
    scores = [0.9, 0.8, 0.3, 0.1, 0.2]
    days = ["2027-01-01", "2027-01-01", "2027-01-01", "2027-01-01", "2027-01-02"]
    assert precision_at_budget(labels, scores, days, budget=2) == pytest.approx(2 / 3)
    assert precision_at_budget(labels, scores, days, budget=1) == pytest.approx(2 / 2)
    assert precision_at_budget(labels, scores, days, budget=10) == pytest.approx(3 / 5), "every row alerts"


def test_precision_at_budget_takes_each_days_top_not_the_overall_top() -> None:
    """Day 2's scores are all lower than day 1's; a pooled top-2 would never alert on day 2."""
    labels = [0, 0, 1, 0]
    scores = [0.9, 0.8, 0.2, 0.1]
    days = [1, 1, 2, 2]
    assert precision_at_budget(labels, scores, days, budget=1) == pytest.approx(1 / 2)


def test_alerts_at_budget_are_the_rows_precision_at_budget_counts() -> None:
    """By hand on the first test's frame, then on simulated days: the alerts' positive share is the precision."""
    days = ["2027-01-01", "2027-01-01", "2027-01-01", "2027-01-01", "2027-01-02"]
    assert alerts_at_budget([0.9, 0.8, 0.3, 0.1, 0.2], days, budget=2).tolist() == [True, True, False, False, True]
    assert alerts_at_budget([0.5, 0.5, 0.5], [1, 1, 1], budget=2).tolist() == [True, True, False], "ties: row order"
    labels, scores, _, sim_days = _simulated(3000, 7, (1.5, 1.5))
    alerted = alerts_at_budget(scores, sim_days, budget=50)
    assert alerted.sum() == 6 * 50
    assert labels[alerted].mean() == pytest.approx(precision_at_budget(labels, scores, sim_days, budget=50))


def _simulated(rows: int, seed: int, skill: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Labels with 3% positives over six days; two models whose scores separate the classes by `skill`."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.03).astype(int)
    candidate = skill[0] * labels + rng.normal(0, 1, rows)
    champion = skill[1] * labels + rng.normal(0, 1, rows)
    days = np.repeat(np.arange(6), rows // 6 + 1)[:rows]
    return labels, candidate, champion, days


@pytest.mark.parametrize("metric", ["roc_auc", "precision_at_budget", "mae"])
def test_identical_scores_give_exactly_zero_and_no_promotion(metric: str) -> None:
    labels, scores, _, days = _simulated(3000, 1, (1.5, 1.5))
    found = paired_improvement(labels, scores, scores.copy(), days, metric, budget=50, resamples=300, seed=3)
    assert (found.point, found.low, found.high) == (0.0, 0.0, 0.0)
    assert not found.low > 0.0, "a margin of 0 is not passed by a tie"


@pytest.mark.parametrize("metric", ["roc_auc", "precision_at_budget"])
def test_a_clearly_better_candidate_has_its_lower_bound_above_zero(metric: str) -> None:
    labels, candidate, champion, days = _simulated(3000, 2, (3.0, 1.0))
    found = paired_improvement(labels, candidate, champion, days, metric, budget=50, resamples=500, seed=4)
    assert found.low > 0 and found.low < found.point < found.high
    assert found.positives == int(labels.sum()) and found.rows == 3000 and found.resamples == 500
    assert found.point == pytest.approx(found.candidate - found.champion)
    backwards = paired_improvement(labels, champion, candidate, days, metric, budget=50, resamples=500, seed=4)
    assert backwards.high < 0 and backwards.point == pytest.approx(-found.point)


def test_the_point_is_the_metric_on_the_holdout_itself() -> None:
    labels, candidate, champion, days = _simulated(2000, 5, (2.0, 1.0))
    found = paired_improvement(labels, candidate, champion, days, "roc_auc", resamples=100, seed=1)
    assert found.candidate == pytest.approx(roc_auc_score(labels, candidate))
    assert found.champion == pytest.approx(roc_auc_score(labels, champion))
    at_budget = paired_improvement(labels, candidate, champion, days, "precision_at_budget", budget=20, resamples=100)
    assert at_budget.candidate == pytest.approx(precision_at_budget(labels, candidate, days, 20))


def test_mae_improvement_is_the_champions_error_minus_the_candidates() -> None:
    """Lower is better: a candidate 1 minute closer to the truth improves by about +1."""
    rng = np.random.default_rng(6)
    truth = rng.uniform(20, 60, 2000)
    candidate = truth + rng.choice([-1.0, 1.0], 2000)  # 1 minute off
    champion = truth + rng.choice([-2.0, 2.0], 2000)  # 2 minutes off
    found = paired_improvement(truth, candidate, champion, np.zeros(2000), "mae", resamples=200, seed=1)
    assert (found.candidate, found.champion, found.point) == pytest.approx((1.0, 2.0, 1.0))
    assert found.low > 0.9 and found.positives is None
    assert paired_improvement(truth, champion, candidate, np.zeros(2000), "mae", resamples=200).point == -1.0


def test_a_resample_with_one_class_leaves_the_interval_undefined_with_the_reason() -> None:
    """One positive among 40 rows: about a third of the resamples draw it zero times, where ROC AUC is undefined;
    dropping them would bias the interval towards the lucky resamples, so there is no interval."""
    labels = np.zeros(40, dtype=int)
    labels[7] = 1
    rng = np.random.default_rng(0)
    found = paired_improvement(labels, rng.random(40), rng.random(40), np.zeros(40), "roc_auc", resamples=200)
    assert math.isnan(found.low) and math.isnan(found.high) and not math.isnan(found.point)
    assert re.fullmatch(r"roc_auc is undefined on \d+ of 200 resamples \(a single class\)", found.undefined)
    none = paired_improvement(np.zeros(40), rng.random(40), rng.random(40), np.zeros(40), "roc_auc", resamples=50)
    assert none.undefined == "roc_auc is undefined on the holdout (a single class)"


def test_the_weighted_forms_match_the_resampled_rows_themselves() -> None:
    """A resample as counts gives the metric of the rows drawn, repeated: checked against scikit-learn's ROC AUC
    and precision at budget on the explicitly repeated rows, ties included."""
    rng = np.random.default_rng(7)
    rows = 400
    labels = (rng.random(rows) < 0.1).astype(float)
    scores = np.round(labels + rng.normal(0, 1, rows), 1)  # rounded: many ties
    days = rng.integers(0, 4, rows)
    model = _Rows.of(labels, scores, _day_codes(days))
    counts = next(_resample_counts(rows, 5, seed=11))
    auc, at_budget = model.roc_auc(counts), model.precision_at_budget(counts, 15)
    mae = model.mae(counts)
    for index, drawn in enumerate(counts):
        repeated = np.repeat(np.arange(rows), drawn)
        assert auc[index] == pytest.approx(roc_auc_score(labels[repeated], scores[repeated]))
        expected = precision_at_budget(labels[repeated], scores[repeated], days[repeated], 15)
        assert at_budget[index] == pytest.approx(expected)
        assert mae[index] == pytest.approx(np.abs(scores[repeated] - labels[repeated]).mean())


def test_precision_at_budget_over_each_days_top_rows_is_exact_even_when_a_day_runs_short() -> None:
    """Only each day's top rows are read first (days of 400 rows, a budget of 5: the top 74 of each); a resample
    where a day drew fewer than the budget there is computed over every row. Both agree with the repeated rows."""
    rng = np.random.default_rng(3)
    rows, budget = 1600, 5
    labels = (rng.random(rows) < 0.2).astype(float)
    scores = labels + rng.normal(0, 1, rows)
    days = np.repeat(np.arange(4), rows // 4)
    model = _Rows.of(labels, scores, _day_codes(days))
    counts = next(_resample_counts(rows, 40, seed=5))
    top_of_day_2 = model.by_day_top[(model.day_start == 800) & (np.arange(rows) - model.day_start < 80)]
    counts[:3, top_of_day_2] = 0  # three resamples where day 2's top rows were never drawn: its alerts lie below
    at_budget = model.precision_at_budget(counts, budget)
    for index, drawn in enumerate(counts):
        repeated = np.repeat(np.arange(rows), drawn)
        expected = precision_at_budget(labels[repeated], scores[repeated], days[repeated], budget)
        assert at_budget[index] == pytest.approx(expected), index


def test_the_same_seed_gives_the_same_interval_and_another_a_close_one() -> None:
    labels, candidate, champion, days = _simulated(3000, 8, (2.0, 1.8))
    one = paired_improvement(labels, candidate, champion, days, "precision_at_budget", budget=50, seed=1)
    assert one == paired_improvement(labels, candidate, champion, days, "precision_at_budget", budget=50, seed=1)
    other = paired_improvement(labels, candidate, champion, days, "precision_at_budget", budget=50, seed=2)
    assert other.point == one.point and abs(other.low - one.low) < 0.02


def test_3000_rows_and_1000_resamples_take_well_under_two_seconds() -> None:
    labels, candidate, champion, days = _simulated(3000, 9, (2.0, 1.5))
    started = time.perf_counter()
    for metric in ("precision_at_budget", "roc_auc"):
        paired_improvement(labels, candidate, champion, days, metric, budget=50, resamples=1000)
    assert time.perf_counter() - started < 4.0, "both metrics, on a busy 2-core machine"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"metric": "pr_auc"}, "unknown evidence metric 'pr_auc'"),
        ({"metric": "precision_at_budget"}, "precision_at_budget needs an alert budget >= 1, got None"),
        ({"metric": "roc_auc", "confidence": 1.0}, "need 0 < confidence < 1"),
    ],
)
def test_a_request_that_cannot_be_measured_is_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        paired_improvement([0, 1], [0.1, 0.9], [0.2, 0.8], [0, 0], **arguments)  # type: ignore[arg-type]


def test_the_interval_reads_as_text() -> None:
    found = Improvement("precision_at_budget", 0.41, 0.35, 0.06, 0.02, 0.1, 0.9, 143, 3000, 1000)
    assert found.interval == "[+0.0200, +0.1000]" and found.label == "precision at budget"
    assert found.width == pytest.approx(0.08)
