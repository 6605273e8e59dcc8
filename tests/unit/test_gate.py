from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from pipelines.data.event_store import BATCH, HTTP, VIA
from pipelines.data.schema import EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP
from pipelines.training.gate import PROMOTE, REJECT, Candidate, GatePolicy, decide
from pipelines.training.label_mix import ALL, LabelGroup, label_mix, shift_reason
from use_cases.fraud import USE_CASE as FRAUD

POLICY = GatePolicy(min_auc=0.75, margin=0.0, min_holdout_rows=500, min_holdout_positives=10, frozen_tolerance=0.05)


def judged(auc: float, champion: float | None = None, **more: object) -> Candidate:
    return Candidate(**{"auc": auc, "champion_auc": champion, "holdout_rows": 5000, "holdout_positives": 100,
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
    policy = GatePolicy(
        min_auc=0.5, margin=margin, min_holdout_rows=500, min_holdout_positives=10, frozen_tolerance=0.05
    )
    assert decide(judged(candidate, champion), policy).decision == expected


def test_a_better_challenger_still_needs_the_floor() -> None:
    assert decide(judged(0.6, 0.5), POLICY).decision == REJECT


def test_undefined_auc_is_rejected() -> None:
    assert decide(judged(math.nan), POLICY).decision == REJECT


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
    candidate = judged(0.88, 0.11, frozen_auc=frozen, champion_frozen_auc=champion_frozen, evaluation_set="ab" * 32)
    decision = decide(candidate, GatePolicy(0.75, 0.0, 500, 10, frozen_tolerance=0.02))
    assert decision.decision == expected, decision.reason
    if expected == REJECT:
        assert decision.reason.startswith("frozen evaluation set abababababab: candidate ROC AUC")


def mix(all_rows: int, all_pos: int, http_rows: int = 0, http_pos: int = 0) -> dict[str, LabelGroup]:
    return {ALL: LabelGroup(all_rows, all_pos), BATCH: LabelGroup(all_rows - http_rows, all_pos - http_pos),
            HTTP: LabelGroup(http_rows, http_pos)}  # fmt: skip


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
    reason = shift_reason(window, REFERENCE, max_ratio=3.0)
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
    found = label_mix(store.labels(known_at=now, extra=(VIA,)))
    assert found[ALL] == LabelGroup(3, 2)
    assert found[BATCH] == LabelGroup(2, 1) and found[HTTP] == LabelGroup(1, 1)
