"""The quality gate: the only way to the `champion` alias.

No champion yet: the candidate must reach an absolute ROC AUC floor. With a champion: the candidate must
beat the champion's ROC AUC on the same holdout by more than the margin (and still reach the floor).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

PROMOTE = "promote"
REJECT = "reject"


@dataclass(frozen=True)
class GateDecision:
    decision: str
    reason: str

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE


def decide(candidate_auc: float, champion_auc: float | None, min_auc: float, margin: float) -> GateDecision:
    if math.isnan(candidate_auc):
        return GateDecision(REJECT, "candidate ROC AUC is undefined (holdout has one class)")
    if candidate_auc < min_auc:
        return GateDecision(REJECT, f"candidate ROC AUC {candidate_auc:.4f} is below the floor {min_auc:.4f}")
    if champion_auc is None or math.isnan(champion_auc):
        return GateDecision(PROMOTE, f"no champion; candidate ROC AUC {candidate_auc:.4f} >= floor {min_auc:.4f}")
    if candidate_auc > champion_auc + margin:
        return GateDecision(
            PROMOTE,
            f"candidate ROC AUC {candidate_auc:.4f} beats champion {champion_auc:.4f} by more than {margin:.4f}",
        )
    return GateDecision(
        REJECT,
        f"candidate ROC AUC {candidate_auc:.4f} does not beat champion {champion_auc:.4f} by more than {margin:.4f}",
    )
