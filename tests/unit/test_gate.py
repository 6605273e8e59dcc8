from __future__ import annotations

import math

import pytest

from pipelines.gate import PROMOTE, REJECT, decide


def test_first_model_needs_the_floor() -> None:
    assert decide(0.80, None, min_auc=0.75, margin=0.0).decision == PROMOTE
    rejected = decide(0.70, None, min_auc=0.75, margin=0.0)
    assert rejected.decision == REJECT
    assert "below the floor" in rejected.reason


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "expected"),
    [(0.90, 0.85, 0.01, PROMOTE), (0.855, 0.85, 0.01, REJECT), (0.85, 0.85, 0.0, REJECT), (0.80, 0.90, 0.0, REJECT)],
)
def test_challenger_must_beat_the_champion_by_the_margin(
    candidate: float, champion: float, margin: float, expected: str
) -> None:
    assert decide(candidate, champion, min_auc=0.5, margin=margin).decision == expected


def test_a_better_challenger_still_needs_the_floor() -> None:
    assert decide(0.6, 0.5, min_auc=0.75, margin=0.0).decision == REJECT


def test_undefined_auc_is_rejected() -> None:
    assert decide(math.nan, None, min_auc=0.5, margin=0.0).decision == REJECT
