"""The labels' arrival curves against a world whose delays are known: censored events (labels still on their
way) are counted as waiting, not dropped, and the per-class fit recovers the slow class and the class shares
that the arrived labels alone get wrong."""

from __future__ import annotations

import numpy as np
import pytest

from monitoring.label_delay import DelayModel, arrival_curve, fit_delay_model

DAYS = 10
FAST_H, SLOW_H = 24.0, 96.0  # class 1's and class 0's median delay
POSITIVE_SHARE = 0.05
LONGEST_H = 24 * 7  # every label arrives within 7 days (fraud's maturity), shorter than the history


@pytest.fixture(scope="module")
def world() -> dict[str, np.ndarray]:
    """10 days of events at a uniform rate, labels lognormal around each class's median (at most 7 days late, as
    fraud's generator), observed now."""
    rng = np.random.default_rng(5)
    rows = 20_000
    happened_h = rng.uniform(0, DAYS * 24, rows)
    classes = (rng.random(rows) < POSITIVE_SHARE).astype(int)
    delays = np.clip(rng.lognormal(np.log(np.where(classes == 1, FAST_H, SLOW_H)), 0.7), 1.0, LONGEST_H)
    ages = DAYS * 24 - happened_h
    arrived = delays <= ages
    return {"ages": ages, "delays": delays, "classes": classes, "arrived": arrived}


@pytest.fixture(scope="module")
def model(world: dict[str, np.ndarray]) -> DelayModel:
    arrived = world["arrived"]
    return fit_delay_model(
        world["ages"], np.where(arrived, world["delays"], np.nan), np.where(arrived, world["classes"], np.nan)
    )


def test_the_overall_curve_counts_the_waiting_labels(world: dict[str, np.ndarray], model: DelayModel) -> None:
    for hours in (12.0, 48.0, 120.0):
        truth = float(np.mean(world["delays"] <= hours))
        assert model.overall.arrived_within(hours)[0] == pytest.approx(truth, abs=0.015), hours
    arrived_only = np.mean(world["delays"][world["arrived"]] <= 48.0)
    assert arrived_only - np.mean(world["delays"] <= 48.0) > 0.05, "the arrived labels alone look faster"
    assert (model.events, model.arrived) == (world["ages"].size, int(world["arrived"].sum()))


def test_the_per_class_fit_recovers_each_class_and_its_share(world: dict[str, np.ndarray], model: DelayModel) -> None:
    classes, delays, arrived = world["classes"], world["delays"], world["arrived"]
    for value in (0, 1):
        truth = float(np.median(delays[classes == value]))
        assert model.per_class[value].median_h == pytest.approx(truth, rel=0.05), value
    assert model.class_shares[1] == pytest.approx(classes.mean(), abs=0.003)
    naive_share = classes[arrived].mean()
    assert naive_share - classes.mean() > 0.01, "the arrived labels alone overstate the fast class"
    naive_slow = float(np.median(delays[arrived & (classes == 0)]))
    assert naive_slow < 0.8 * float(np.median(delays[classes == 0])), "and make the slow class look fast"


def test_a_cohorts_expected_maturity_is_the_curve_at_its_ages(model: DelayModel) -> None:
    young, old = np.full(100, 1.0), np.full(100, 24.0 * 9)
    assert model.expected_arrived(young) < 0.05 < 0.9 < model.expected_arrived(old)
    assert np.isnan(model.expected_arrived(np.array([])))


def test_the_curve_is_a_step_function_from_zero() -> None:
    curve = arrival_curve(np.array([1.0, 2.0, 3.0, 4.0]), np.array([True, True, True, True]))
    assert curve.arrived_within(np.array([0.5, 1.0, 2.5, 4.0])) == pytest.approx([0.0, 0.25, 0.5, 1.0])
    assert curve.median_h == 2.0
    waiting = arrival_curve(np.array([1.0, 5.0]), np.array([True, False]))
    assert waiting.arrived_within(10.0)[0] == 0.5 and np.isnan(
        arrival_curve(np.array([9.0]), np.array([False])).median_h
    )


def test_a_regression_label_gets_the_overall_curve_only(world: dict[str, np.ndarray]) -> None:
    arrived = world["arrived"]
    model = fit_delay_model(world["ages"], np.where(arrived, world["delays"], np.nan))
    assert model.per_class == {} and model.class_shares == {}


def test_the_arrival_curve_is_lifelines_kaplan_meier_with_ties_censoring_and_weights() -> None:
    """The curve is written out in numpy (the per-class fit calls it up to fifty times a check); lifelines' fitter,
    the reference, gives the same curve on weighted, tied and censored delays."""
    import warnings

    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(7)
    for size in (1, 5, 200, 3000):
        durations = np.round(rng.exponential(30.0, size), 0)  # rounded: many ties, and some zeros
        arrived = rng.random(size) < 0.6
        for weights in (None, rng.uniform(1e-9, 1.0, size)):
            ours = arrival_curve(durations, arrived, weights)
            fitter = KaplanMeierFitter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitter.fit(durations, arrived, weights=weights)
            survival = fitter.survival_function_.iloc[:, 0]
            times = survival.index.to_numpy(np.float64)
            keep = times > 0
            np.testing.assert_array_equal(ours.delays_h, times[keep])
            np.testing.assert_allclose(ours.arrived, np.clip(1.0 - survival.to_numpy()[keep], 0, 1), atol=1e-12)
