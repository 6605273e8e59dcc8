from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core.use_case import Label, MeanShift, RateShift, Skip
from pipelines.data.event_store import BATCH, HTTP, VIA
from pipelines.data.schema import EVENT_ID, LABEL_TIMESTAMP
from pipelines.training.evidence import Improvement
from pipelines.training.gate import PROMOTE, REJECT, Candidate, EvidencePlan, GatePolicy, decide
from pipelines.training.label_mix import ALL, LabelGroup, label_mix, mix_from_metrics, shift_reason
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.schema import IS_FRAUD

POLICY = GatePolicy(
    "roc_auc",
    True,
    floor=0.75,
    margin=0.0,
    min_holdout_rows=500,
    min_holdout_positives=10,
    frozen_tolerance=0.05,
    positive="fraud",
)
# A regression: mean absolute error in minutes, lower is better; no positive class to count.
NO_POSITIVE_CLASS = Skip("a regression target has no positive class")
MAE_POLICY = GatePolicy(
    "mae",
    False,
    floor=6.0,
    margin=0.1,
    min_holdout_rows=500,
    min_holdout_positives=NO_POSITIVE_CLASS,
    frozen_tolerance=0.5,
)


def judged(score: float, champion: float | None = None, **more: object) -> Candidate:
    return Candidate(**{"score": score, "champion_score": champion, "holdout_rows": 5000, "holdout_positives": 100,
                        **more})  # type: ignore[arg-type]  # fmt: skip


def test_first_model_needs_the_floor() -> None:
    assert decide(judged(0.80), POLICY).decision == PROMOTE
    rejected = decide(judged(0.70), POLICY)
    assert rejected.decision == REJECT and "below the floor" in rejected.reason


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "expected"),
    [(0.90, 0.85, 0.01, PROMOTE), (0.855, 0.85, 0.01, REJECT), (0.85, 0.85, 0.0, REJECT), (0.80, 0.90, 0.0, REJECT)],
)
def test_challenger_must_beat_the_champion_by_the_margin(
    candidate: float, champion: float, margin: float, expected: str
) -> None:
    policy = replace(POLICY, floor=0.5, margin=margin)
    assert decide(judged(candidate, champion), policy).decision == expected


def test_a_better_challenger_still_needs_the_floor() -> None:
    assert decide(judged(0.6, 0.5), POLICY).decision == REJECT


def test_undefined_auc_is_rejected() -> None:
    decision = decide(judged(math.nan), POLICY)
    expected = (REJECT, "undefined_metric", "candidate ROC AUC is undefined on the holdout")
    assert (decision.decision, decision.check, decision.reason) == expected


def test_a_shuffled_label_run_is_never_promoted_however_it_scores() -> None:
    decision = decide(judged(0.99, shuffled_labels=True), POLICY)
    assert decision.decision == REJECT and "shuffled" in decision.reason


@pytest.mark.parametrize(("rows", "positives"), [(499, 100), (5000, 9)])
def test_a_holdout_too_small_to_judge_is_a_rejection(rows: int, positives: int) -> None:
    decision = decide(judged(0.95, 0.80, holdout_rows=rows, holdout_positives=positives), POLICY)
    assert decision.decision == REJECT and "holdout too small" in decision.reason


def test_a_label_shift_holds_even_a_better_candidate() -> None:
    decision = decide(judged(0.99, 0.80, label_shift="label mix: all labels' fraud rate ..."), POLICY)
    assert decision.decision == REJECT and decision.reason.startswith("held: label mix")


@pytest.mark.parametrize(
    ("frozen", "champion_frozen", "expected"),
    [
        (0.84, 0.85, PROMOTE),
        (0.82, 0.85, REJECT),
        (0.17, 0.85, REJECT),
        (math.nan, 0.85, REJECT),
        (None, None, PROMOTE),
    ],
)
def test_a_candidate_worse_than_the_champion_on_the_frozen_set_is_rejected(
    frozen: float | None, champion_frozen: float | None, expected: str
) -> None:
    """Tolerance 0.02: a holdout cut from poisoned labels can make the candidate look better (0.88 vs 0.11);
    the frozen set, which no endpoint writes, says otherwise."""
    candidate = judged(0.88, 0.11, frozen_score=frozen, champion_frozen_score=champion_frozen, evaluation_set="ab" * 32)
    decision = decide(candidate, replace(POLICY, frozen_tolerance=0.02))
    assert decision.decision == expected, decision.reason
    if expected == REJECT:
        assert decision.reason.startswith("frozen evaluation set abababababab: candidate ROC AUC")


@pytest.mark.parametrize(
    ("score", "champion", "expected", "check"),
    [
        (5.0, None, PROMOTE, "first_model"),
        (6.5, None, REJECT, "floor"),  # worse than the floor: more minutes off
        (4.0, 4.5, PROMOTE, "beats_champion"),  # 0.5 minutes better, beyond the 0.1 margin
        (4.45, 4.5, REJECT, "not_better"),  # better, but within the margin
        (4.8, 4.5, REJECT, "not_better"),
    ],
)
def test_lower_is_better_for_a_regression_metric(
    score: float, champion: float | None, expected: str, check: str
) -> None:
    decision = decide(judged(score, champion, holdout_positives=None), MAE_POLICY)
    assert (decision.decision, decision.check) == (expected, check), decision.reason
    if check == "floor":
        assert decision.reason == "candidate MAE 6.5000 is above the floor 6.0000"


def test_a_regression_skips_the_positives_minimum_and_says_so() -> None:
    decision = decide(judged(4.0, holdout_rows=300, holdout_positives=None), MAE_POLICY)
    assert decision.check == "holdout_size"
    assert decision.reason == (
        "holdout too small to judge: 300 rows (needs 500; positives: skipped, a regression target has no positive "
        "class)"
    )
    assert decide(judged(4.0, holdout_positives=None), MAE_POLICY).decision == PROMOTE


def test_the_frozen_set_compares_in_the_metrics_direction() -> None:
    worse = judged(4.0, 4.5, frozen_score=5.2, champion_frozen_score=4.6, evaluation_set="cd" * 32)
    assert decide(worse, MAE_POLICY).check == "frozen_set"  # 0.6 minutes worse, beyond 0.5
    within = judged(4.0, 4.5, frozen_score=5.0, champion_frozen_score=4.6, evaluation_set="cd" * 32)
    assert decide(within, MAE_POLICY).decision == PROMOTE


def test_the_policy_is_the_use_cases_unless_a_setting_overrides_it(clean_env: pytest.MonkeyPatch) -> None:
    from pipelines.core.settings import Settings
    from pipelines.core.use_case import load_use_case

    fraud, delivery = load_use_case("fraud"), load_use_case("delivery")
    assert GatePolicy.of(fraud, Settings()) == POLICY
    assert GatePolicy.of(delivery, Settings()).floor == delivery.gate.floor
    clean_env.setenv("DRIFTLOOP_GATE_FLOOR", "0.8")
    clean_env.setenv("DRIFTLOOP_GATE_MIN_HOLDOUT_POSITIVES", "50")
    assert GatePolicy.of(fraud, Settings()) == replace(POLICY, floor=0.8, min_holdout_positives=50)
    assert isinstance(GatePolicy.of(delivery, Settings()).min_holdout_positives, Skip), "a skip stays a skip"


def evidence(point: float, low: float, high: float, **more: object) -> Improvement:
    fields = {
        "metric": "precision_at_budget",
        "candidate": 0.40 + point,
        "champion": 0.40,
        "point": point,
        "low": low,
        "high": high,
        "confidence": 0.9,
        "positives": 143,
        "rows": 3000,
        "resamples": 1000,
        **more,
    }
    return Improvement(**fields)  # type: ignore[arg-type]


def test_with_evidence_a_challenger_is_promoted_only_when_its_lower_bound_clears_the_margin() -> None:
    promoted = decide(judged(0.90, 0.88, improvement=evidence(0.06, 0.02, 0.10)), POLICY)
    assert (promoted.decision, promoted.check) == (PROMOTE, "beats_champion")
    assert promoted.reason == (
        "precision at budget 0.4600 vs the champion's 0.4000: improvement +0.0600 [90% CI +0.0200, +0.1000] "
        "over 143 fraud > margin 0.0000"
    )
    # Ahead on the holdout, and on ROC AUC too, but the interval reaches below 0: chance cannot be ruled out.
    rejected = decide(judged(0.90, 0.88, improvement=evidence(0.02, -0.01, 0.05)), POLICY)
    assert (rejected.decision, rejected.check) == (REJECT, "not_better")
    assert rejected.reason.endswith("over 143 fraud: its lower bound is not above the margin 0.0000")
    assert decide(judged(0.90, 0.88, improvement=evidence(0.06, 0.02, 0.10)), replace(POLICY, margin=0.03)).check == (
        "not_better"
    )
    tie = decide(judged(0.88, 0.88, improvement=evidence(0.0, 0.0, 0.0)), POLICY)
    assert tie.decision == REJECT, "the same model twice is no evidence"


def test_evidence_overrules_the_primary_metrics_point_comparison() -> None:
    """Behind on ROC AUC by a hair, clearly ahead where the alerts are worked: the evidence metric decides."""
    decision = decide(judged(0.879, 0.880, improvement=evidence(0.08, 0.04, 0.12)), POLICY)
    assert decision.decision == PROMOTE


def test_too_few_positives_to_decide_is_a_decision_with_that_reason() -> None:
    undefined = evidence(0.01, math.nan, math.nan, undefined="roc_auc is undefined on 3 of 1000 resamples")
    decision = decide(judged(0.95, 0.80, improvement=undefined), POLICY)
    assert (decision.decision, decision.check) == (REJECT, "too_few_positives")
    assert decision.reason == (
        "too few fraud to decide: roc_auc is undefined on 3 of 1000 resamples; the holdout holds 143 fraud in 3000 rows"
    )


def test_the_earlier_checks_still_come_before_the_evidence() -> None:
    strong = evidence(0.2, 0.1, 0.3)
    assert decide(judged(0.95, 0.80, holdout_positives=9, improvement=strong), POLICY).check == "holdout_size"
    assert decide(judged(0.70, 0.60, improvement=strong), POLICY).check == "floor"
    assert decide(judged(0.95, 0.80, shuffled_labels=True, improvement=strong), POLICY).check == "shuffled_labels"
    held = judged(0.95, 0.80, label_shift="label mix: ...", improvement=strong)
    assert decide(held, POLICY).check == "label_mix"


def test_a_regressions_evidence_rests_on_its_rows() -> None:
    minutes = evidence(0.3, 0.15, 0.45, metric="mae", candidate=4.2, champion=4.5, positives=None, rows=2400)
    decision = decide(judged(4.2, 4.5, holdout_positives=None, improvement=minutes), MAE_POLICY)
    assert decision.decision == PROMOTE
    assert decision.reason == (
        "MAE 4.2000 vs the champion's 4.5000: improvement +0.3000 [90% CI +0.1500, +0.4500] over 2400 rows "
        "> margin 0.1000"
    )


def test_the_evidence_plan_is_the_use_cases_unless_a_setting_names_another(clean_env: pytest.MonkeyPatch) -> None:
    from pipelines.core.settings import Settings
    from pipelines.core.use_case import load_use_case

    fraud, delivery = load_use_case("fraud"), load_use_case("delivery")
    assert EvidencePlan.of(fraud, Settings()) == EvidencePlan("precision_at_budget", 100, 1000, 0.90)
    assert EvidencePlan.of(delivery, Settings()) == EvidencePlan("mae", None, 1000, 0.90)
    assert not EvidencePlan.of(delivery, Settings()).higher_is_better
    clean_env.setenv("DRIFTLOOP_ALERT_BUDGET_PER_DAY", "80")
    clean_env.setenv("DRIFTLOOP_GATE_CONFIDENCE", "0.95")
    assert EvidencePlan.of(fraud, Settings()) == EvidencePlan("precision_at_budget", 80, 1000, 0.95)
    clean_env.setenv("DRIFTLOOP_GATE_EVIDENCE_METRIC", "roc_auc")
    clean_env.setenv("DRIFTLOOP_GATE_RESAMPLES", "2000")
    assert EvidencePlan.of(fraud, Settings()) == EvidencePlan("roc_auc", None, 2000, 0.95)


def test_a_retired_gate_variable_is_refused_by_name(clean_env: pytest.MonkeyPatch) -> None:
    from pipelines.core.settings import Settings

    clean_env.setenv("DRIFTLOOP_GATE_MIN_ROC_AUC", "0.9")
    with pytest.raises(
        ValueError, match="DRIFTLOOP_GATE_MIN_ROC_AUC is no longer read: it was renamed DRIFTLOOP_GATE_FLOOR"
    ):
        Settings()


def test_a_removed_challenger_variable_names_the_command_that_replaced_it(clean_env: pytest.MonkeyPatch) -> None:
    from pipelines.core.settings import Settings

    clean_env.setenv("DRIFTLOOP_CHALLENGER_MODE", "canary")
    with pytest.raises(ValueError, match="DRIFTLOOP_CHALLENGER_MODE is no longer read: .*driftloop model challenger"):
        Settings()


def mix(all_rows: int, all_pos: int, http_rows: int = 0, http_pos: int = 0) -> dict[str, LabelGroup]:
    return {ALL: LabelGroup(all_rows, all_pos), BATCH: LabelGroup(all_rows - http_rows, all_pos - http_pos),
            HTTP: LabelGroup(http_rows, http_pos)}  # fmt: skip


FRAUD_LABEL = Label("is_fraud", "binary", "charged back as fraud", positive="fraud")
REFERENCE = mix(47_000, 960)  # the demo's first window: 2.0% fraud, all batch-landed


@pytest.mark.parametrize(
    ("window", "held"),
    [
        (mix(72_000, 1_870, 1_200, 31), False),  # a real fraud wave (the demo's wallet feed): 2.6%, HTTP 2.6%
        (mix(72_000, 2_700, 1_200, 31), False),  # 3.75%: 1.8x, within 3x
        (mix(65_000, 13_300, 65_000, 13_300), True),  # 20% of the labels flipped over HTTP
        (mix(65_000, 63_700, 65_000, 63_700), True),  # every label flipped
        (mix(65_000, 0), True),  # every fraud label withdrawn
        (mix(67_200, 2_330, 3_200, 1_031), True),  # 2,000 fabricated transactions with coin-flip labels
        (mix(47_000, 960, 40, 3), False),  # 3 fraud in 40 HTTP labels (3.7x): too few to be certain
    ],
)
def test_the_label_mix_guard_holds_jumps_and_lets_real_drift_through(window: dict[str, LabelGroup], held: bool) -> None:
    reason = shift_reason(window, REFERENCE, RateShift(max_ratio=3.0), FRAUD_LABEL)
    assert (reason is not None) == held, reason
    if reason:
        assert reason.startswith("label mix: ") and "champion's training window (2.04%)" in reason


def test_the_window_mix_counts_current_labels_by_channel_as_known_then(tmp_path: Path) -> None:
    """Through the event store: an HTTP label counts from its arrival, a batch one from its stamp, the
    latest known verdict is the one counted, and its channel comes with it."""
    from pipelines.data.event_store import EventStore

    now = pd.Timestamp("2027-02-01", tz="UTC")
    hour = pd.Timedelta(hours=1)
    store = EventStore(tmp_path / "events", tmp_path / "predictions", FRAUD)

    def labels(ids: list[str], fraud: list[int], hours_ago: int) -> pd.DataFrame:
        return pd.DataFrame({EVENT_ID: pd.array(ids, dtype="string"), IS_FRAUD: fraud,
                             LABEL_TIMESTAMP: [now - hours_ago * hour] * len(ids)})  # fmt: skip

    store.append_labels(labels(["a", "b", "c"], [0, 0, 1], 30), now - 20 * hour, trusted_times=True)
    store.append_labels(labels(["b"], [1], 29), now - 2 * hour, trusted_times=False)  # arrived 2 h ago
    store.append_labels(labels(["d"], [1], 29), now + hour, trusted_times=False)  # not arrived yet
    found = label_mix(store.labels(known_at=now, extra=(VIA,)), IS_FRAUD)
    assert found[ALL] == LabelGroup(3, 2, 2.0, 2.0)
    assert found[BATCH] == LabelGroup(2, 1, 1.0, 1.0) and found[HTTP] == LabelGroup(1, 1, 1.0, 1.0)


MINUTES = Label("delivery_minutes", "regression", "minutes to the door", minimum=0, maximum=240, unit="minutes")


def minutes_group(values: list[float]) -> LabelGroup:
    array = np.asarray(values, dtype=float)
    return LabelGroup(len(array), 0, float(array.sum()), float((array**2).sum()))


def test_a_regression_mean_jump_is_held_and_a_wobble_is_not() -> None:
    rng = np.random.default_rng(3)
    reference = minutes_group(list(rng.normal(30, 8, 20_000)))
    assert reference.mean == pytest.approx(30, abs=0.2) and reference.sd == pytest.approx(8, abs=0.2)
    guard = MeanShift(max_ratio=1.5)
    past = {ALL: reference, BATCH: reference, HTTP: LabelGroup(0, 0)}
    calm = minutes_group(list(rng.normal(33, 8, 5_000)))  # rain: 10% slower, within 1.5x
    assert shift_reason({ALL: calm, BATCH: calm, HTTP: LabelGroup(0, 0)}, past, guard, MINUTES) is None
    forged = minutes_group([200.0] * 600)  # 600 deliveries relabelled to 200 minutes over HTTP
    reason = shift_reason({ALL: forged, BATCH: LabelGroup(0, 0), HTTP: forged}, past, guard, MINUTES)
    assert reason is not None and "http labels' mean delivery_minutes 200.00 over 600 rows is 6.7x" in reason


def test_a_run_logged_before_sums_were_recorded_reads_back_for_a_classifier() -> None:
    """Older runs logged rows and positives only: for 0/1 labels the sums are the positives."""
    old = {"labels_all": 100.0, "labels_all_positives": 4.0, "labels_batch": 100.0, "labels_batch_positives": 4.0}
    mix = mix_from_metrics(old)
    assert mix is not None and mix[ALL] == LabelGroup(100, 4, 4.0, 4.0) and mix[HTTP] == LabelGroup(0, 0, 0.0, 0.0)
