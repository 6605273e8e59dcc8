"""The quality gate: the only way to the `champion` alias.

In order, a candidate is rejected when: it was trained on shuffled labels (a test run, never served); its holdout
is too small to judge; the labels it learnt from jumped away from the champion's (`pipelines.training.label_mix`: held,
with the reason, for a person to look at); it is worse than the champion on the frozen evaluation set
(`pipelines.training.evaluation_set`: labels no endpoint can write) by more than the tolerance; its ROC AUC is undefined
or below the floor; a champion exists and it does not beat the champion's ROC AUC on the same holdout by more
than the margin. The thresholds come from
settings only (`GatePolicy.from_settings`): a run's parameters cannot lower them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipelines.core.settings import Settings

PROMOTE = "promote"
REJECT = "reject"


@dataclass(frozen=True)
class GateDecision:
    """Promote, reject or hold, with the reason and the check that decided (tags, metrics, alerts)."""

    decision: str
    reason: str
    check: str  # which check decided (a metric label: the dashboard and alerts tell a hold from a weak model)

    @property
    def promoted(self) -> bool:
        return self.decision == PROMOTE


@dataclass(frozen=True)
class GatePolicy:
    """The gate's thresholds, from settings only: whoever submits a run cannot lower them."""

    min_auc: float
    margin: float
    min_holdout_rows: int
    min_holdout_positives: int
    frozen_tolerance: float

    @classmethod
    def from_settings(cls, settings: Settings) -> GatePolicy:
        return cls(
            settings.gate_min_roc_auc,
            settings.gate_margin,
            settings.gate_min_holdout_rows,
            settings.gate_min_holdout_positives,
            settings.gate_frozen_tolerance,
        )


@dataclass(frozen=True)
class Candidate:
    """What the gate knows of a candidate: its scores and how it was made."""

    auc: float
    champion_auc: float | None  # None: no champion yet
    holdout_rows: int
    holdout_positives: int
    shuffled_labels: bool = False
    label_shift: str | None = None  # the label-mix guard's reason, when it holds the run
    frozen_auc: float | None = None  # ROC AUC on the frozen evaluation set (pipelines/training/evaluation_set.py)
    champion_frozen_auc: float | None = None
    evaluation_set: str = ""  # its fingerprint


def decide(candidate: Candidate, policy: GatePolicy) -> GateDecision:
    auc, champion_auc = candidate.auc, candidate.champion_auc
    if candidate.shuffled_labels:
        return GateDecision(REJECT, "trained on shuffled labels: a test run is never promoted", "shuffled_labels")
    if candidate.holdout_rows < policy.min_holdout_rows or candidate.holdout_positives < policy.min_holdout_positives:
        return GateDecision(
            REJECT,
            f"holdout too small to judge: {candidate.holdout_rows} rows, {candidate.holdout_positives} fraud "
            f"(needs {policy.min_holdout_rows} and {policy.min_holdout_positives})",
            "holdout_size",
        )
    if candidate.label_shift:
        return GateDecision(REJECT, f"held: {candidate.label_shift}", "label_mix")
    if _worse_on_the_frozen_set(candidate, policy.frozen_tolerance):
        return GateDecision(
            REJECT,
            f"frozen evaluation set {candidate.evaluation_set[:12]}: candidate ROC AUC {candidate.frozen_auc:.4f} is "
            f"below the champion's {candidate.champion_frozen_auc:.4f} by more than {policy.frozen_tolerance:.4f}",
            "frozen_set",
        )
    if math.isnan(auc):
        return GateDecision(REJECT, "candidate ROC AUC is undefined (holdout has one class)", "undefined_auc")
    if auc < policy.min_auc:
        return GateDecision(REJECT, f"candidate ROC AUC {auc:.4f} is below the floor {policy.min_auc:.4f}", "floor")
    if champion_auc is None or math.isnan(champion_auc):
        return GateDecision(
            PROMOTE, f"no champion; candidate ROC AUC {auc:.4f} >= floor {policy.min_auc:.4f}", "first_model"
        )
    if auc > champion_auc + policy.margin:
        return GateDecision(
            PROMOTE,
            f"candidate ROC AUC {auc:.4f} beats champion {champion_auc:.4f} by more than {policy.margin:.4f}",
            "beats_champion",
        )
    return GateDecision(
        REJECT,
        f"candidate ROC AUC {auc:.4f} does not beat champion {champion_auc:.4f} by more than {policy.margin:.4f}",
        "not_better",
    )


def _worse_on_the_frozen_set(candidate: Candidate, tolerance: float) -> bool:
    """Worse than the champion on the frozen set (an undefined score there counts as worse)."""
    if candidate.champion_auc is None or candidate.champion_frozen_auc is None:
        return False  # no champion, or no frozen set yet: nothing to compare with
    if candidate.frozen_auc is None or math.isnan(candidate.frozen_auc):
        return True
    return candidate.frozen_auc < candidate.champion_frozen_auc - tolerance
