"""The canary's sequential test on known streams: equal streams stay undecided, a clearly lower loss promotes,
a higher one rolls back, the horizon expires, and under equality the chance of any decision, looked at after
every 100 rows, stays near alpha (the always-valid guarantee a fixed-sample test looked at as often breaks)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from monitoring.canary_sprt import (
    CONTINUE,
    EXPIRE,
    PROMOTE,
    ROLLBACK,
    ArmLosses,
    CanaryPlan,
    judge,
    mixture_log_ratio,
    row_losses,
    run_stream,
)

PLAN = CanaryPlan(alpha=0.05, min_rows=200, horizon_rows=5000)


def _stream(seed: int, rows: int, share: float, champion_mean: float, challenger_mean: float) -> tuple:
    rng = np.random.default_rng(seed)
    arm = rng.random(rows) < share
    losses = rng.normal(np.where(arm, challenger_mean, champion_mean), 1.0)
    return arm, losses


def test_identical_streams_stay_undecided() -> None:
    losses = np.random.default_rng(0).exponential(1.0, 3000)
    same = ArmLosses.of(losses)
    verdict = judge(PLAN, same, same)
    assert verdict.decision == CONTINUE
    assert verdict.difference == 0.0 and verdict.statistic < 0 and verdict.p_value == 1.0


def test_a_clearly_lower_loss_promotes_and_a_higher_one_rolls_back() -> None:
    arm, losses = _stream(1, 20_000, 0.2, champion_mean=1.0, challenger_mean=0.7)
    verdict, read = run_stream(PLAN, arm, losses, look_every=100)
    assert verdict.decision == PROMOTE and verdict.difference < 0 and verdict.p_value <= PLAN.alpha
    assert read < 20_000 and verdict.challenger.rows >= PLAN.min_rows
    arm, losses = _stream(1, 20_000, 0.2, champion_mean=0.7, challenger_mean=1.0)
    verdict, _ = run_stream(PLAN, arm, losses, look_every=100)
    assert verdict.decision == ROLLBACK and verdict.difference > 0


def test_no_decision_before_each_arm_has_its_minimum_rows() -> None:
    big = ArmLosses.of(np.zeros(10_000) + np.linspace(0, 1, 10_000))
    verdict = judge(PLAN, big, ArmLosses.of(np.full(199, 5.0) + np.linspace(0, 1e-3, 199)))
    assert verdict.decision == CONTINUE and "waiting for rows" in verdict.reason


def test_an_undecided_canary_expires_at_the_horizon() -> None:
    arm, losses = _stream(2, 60_000, 0.5, 1.0, 1.0)
    verdict, _ = run_stream(CanaryPlan(0.05, 200, 1000), arm, losses, look_every=100)
    assert verdict.decision == EXPIRE and min(verdict.champion.rows, verdict.challenger.rows) >= 1000


def test_the_p_value_never_rises_between_looks() -> None:
    champion, challenger = ArmLosses.of(np.arange(400.0) % 3), ArmLosses.of(np.arange(400.0) % 3 + 0.01)
    assert judge(PLAN, champion, challenger, previous_p=0.2).p_value <= 0.2


def test_the_mixture_ratio_is_one_at_no_difference_and_grows_with_it() -> None:
    assert mixture_log_ratio(0.0, 1.0, 1.0) == pytest.approx(0.5 * math.log(0.5))
    assert mixture_log_ratio(3.0, 1.0, 1.0) > mixture_log_ratio(2.0, 1.0, 1.0) > 0


def test_equal_models_are_told_apart_at_most_about_alpha_of_the_time_however_often_looked_at() -> None:
    decided = 0
    sims = 400
    for seed in range(sims):
        arm, losses = _stream(seed, 6000, 0.3, 1.0, 1.0)
        verdict, _ = run_stream(CanaryPlan(0.05, 200, 100_000), arm, losses, look_every=50)
        decided += verdict.decision in (PROMOTE, ROLLBACK)
    assert decided / sims <= 0.05 + 0.03, f"{decided} of {sims} equal canaries decided"


def test_losses_follow_the_label_kind() -> None:
    binary = row_losses("binary", np.array([1, 0]), np.array([0.5, 0.0]))
    assert binary[0] == pytest.approx(math.log(2)) and binary[1] == pytest.approx(0.0, abs=1e-5)
    assert list(row_losses("regression", np.array([3.0]), np.array([5.0]))) == [2.0]
    with pytest.raises(ValueError, match="no canary loss"):
        row_losses("ranking", np.array([1]), np.array([1]))
