"""The retraining policy, rule by rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitoring.policy import (
    DRIFTED_HARMLESS,
    HARM,
    NO_TRIGGER,
    PAUSED,
    HarmSignal,
    PolicyInputs,
    RetrainPolicy,
    decide,
)

POLICY = RetrainPolicy(drift_share_threshold=0.3, min_rows=200, cooldown=timedelta(minutes=30))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DRIFTED = PolicyInputs(
    window_key="1:2026-11-24T12:00", drift_share=0.6, rows=1000, now=NOW, last_trigger_at=None,
    run_in_flight=None, handled_windows=frozenset(),
)  # fmt: skip


HEALTHY_ESTIMATE = HarmSignal("roc_auc", 0.91, 0.86, 0.95, 0.917, True, 0.12)
HARMED_ESTIMATE = HarmSignal("roc_auc", 0.80, 0.74, 0.86, 0.917, True, 0.18)


def test_drift_without_estimated_harm_is_recorded_as_harmless_and_does_not_retrain() -> None:
    decision = decide(POLICY, replace(DRIFTED, harm=HEALTHY_ESTIMATE))
    assert decision.action == DRIFTED_HARMLESS and not decision.triggers and decision.signal == "drift"
    assert "drifted, harmless" in decision.reason and "0.910 [0.860, 0.950] vs reference 0.917" in decision.reason
    assert decide(replace(POLICY, retrain_on_drift=True), replace(DRIFTED, harm=HEALTHY_ESTIMATE)).triggers


def test_estimated_harm_retrains_without_drift_and_names_its_signal() -> None:
    calm = replace(DRIFTED, drift_share=0.05, harm=HARMED_ESTIMATE)
    decision = decide(POLICY, calm)
    assert decision.triggers and decision.signal == HARM
    assert "estimated ROC AUC 0.800 [0.740, 0.860] vs reference 0.917 with 18% of labels in: harm" in decision.reason
    both = decide(POLICY, replace(DRIFTED, harm=HARMED_ESTIMATE))
    assert both.triggers and both.signal == "drift+estimated_harm"


def test_harm_needs_the_whole_interval_past_the_margin() -> None:
    near = replace(HARMED_ESTIMATE, high=0.90)
    assert decide(POLICY, replace(DRIFTED, drift_share=0.05, harm=near)).triggers
    assert decide(replace(POLICY, harm_margin=0.02), replace(DRIFTED, drift_share=0.05, harm=near)).action == NO_TRIGGER
    lower_is_better = HarmSignal("mae", 9.0, 8.0, 10.0, 7.0, False, 0.3)
    assert lower_is_better.harmed(0.5) and not lower_is_better.harmed(1.0)


def test_enough_drift_over_enough_rows_triggers() -> None:
    decision = decide(POLICY, DRIFTED)
    assert decision.triggers and "0.60 >= 0.30 over 1000 rows" in decision.reason


def test_too_few_rows_or_too_little_drift_does_not() -> None:
    assert "too few rows: 199 < 200" in decide(POLICY, replace(DRIFTED, rows=199)).reason
    assert not decide(POLICY, replace(DRIFTED, rows=199)).triggers
    assert not decide(POLICY, replace(DRIFTED, drift_share=0.29)).triggers
    assert decide(POLICY, replace(DRIFTED, drift_share=0.30)).triggers


def test_cooldown_blocks_until_it_has_passed() -> None:
    recent = replace(DRIFTED, last_trigger_at=NOW - timedelta(minutes=10))
    assert not decide(POLICY, recent).triggers and "cooling down" in decide(POLICY, recent).reason
    assert decide(POLICY, replace(DRIFTED, last_trigger_at=NOW - timedelta(minutes=31))).triggers


def test_only_one_run_in_flight() -> None:
    busy = replace(DRIFTED, run_in_flight="local:123")
    assert not decide(POLICY, busy).triggers and "in flight (local:123)" in decide(POLICY, busy).reason


def test_no_retraining_while_a_canary_is_judged() -> None:
    judged = replace(DRIFTED, canary="challenger v3 at 20% against champion v2")
    decision = decide(POLICY, judged)
    assert not decision.triggers and "a canary is running (challenger v3 at 20%" in decision.reason
    assert decide(POLICY, replace(judged, canary=None)).triggers


def test_re_running_a_decided_window_never_triggers_twice() -> None:
    again = replace(DRIFTED, handled_windows=frozenset({DRIFTED.window_key}))
    assert not decide(POLICY, again).triggers and "already decided" in decide(POLICY, again).reason


def test_the_pause_holds_exactly_what_would_have_triggered_and_says_by_whom() -> None:
    pause = "paused by ops@laptop at 2026-11-24T11:00:00Z: labels are late"
    held = decide(POLICY, replace(DRIFTED, pause=pause))
    assert held.action == PAUSED and not held.triggers and held.signal == "drift"
    assert held.reason == f"held by the pause ({pause}); would have triggered: drift share 0.60 >= 0.30 over 1000 rows"
    harmed = decide(POLICY, replace(DRIFTED, drift_share=0.05, harm=HARMED_ESTIMATE, pause=pause))
    assert harmed.action == PAUSED and harmed.signal == HARM
    # Nothing to hold: the decision and its reason are what they are without the pause.
    for calm in (
        replace(DRIFTED, drift_share=0.05),
        replace(DRIFTED, run_in_flight="local:1"),
        replace(DRIFTED, harm=HEALTHY_ESTIMATE),
    ):
        assert decide(POLICY, replace(calm, pause=pause)) == decide(POLICY, calm)


def test_the_feature_refresh_runs_on_its_interval_and_just_after_each_hour() -> None:
    from monitoring.scheduler import next_refresh_delay

    hour = 3600.0 * 500_000  # an hour boundary, in epoch seconds
    # Mid-hour: the interval decides.
    assert next_refresh_delay(hour + 1000, last_run_s=hour + 900, interval_s=300, grace_s=7) == 200
    # Near the end of the hour: the boundary (plus grace) comes first.
    assert next_refresh_delay(hour + 3480, last_run_s=hour + 3420, interval_s=300, grace_s=7) == 127
    # The boundary passed since the last run: run once the grace is over, not an interval later.
    assert next_refresh_delay(hour + 3603, last_run_s=hour + 3540, interval_s=300, grace_s=7) == 4
    # Already ran after this boundary: back to the interval.
    assert next_refresh_delay(hour + 3610, last_run_s=hour + 3608, interval_s=300, grace_s=7) == 298
    assert next_refresh_delay(hour + 9000, last_run_s=hour, interval_s=300, grace_s=7) == 0
