"""The quality gate: the only way to the `champion` alias.

In order, a candidate is rejected when: it was trained on shuffled labels (a test run, never served); its holdout
is too small to judge; the labels it learnt from jumped away from the champion's (`pipelines.training.label_mix`:
held, with the reason, for a person to look at); it is worse than the champion on the frozen evaluation set
(`pipelines.training.evaluation_set`: labels no endpoint can write) by more than the tolerance; its primary metric
is undefined or worse than the floor; a champion exists and the evidence that it is better is not there: the
lower bound of the paired bootstrap interval of its improvement on the evidence metric, on the same holdout
(`pipelines.training.evidence`), is not above the margin, or too few positives leave the interval undefined.
"Worse" and "better" follow the metric's direction (ROC AUC, precision at budget: higher is better; MAE: lower is
better). The thresholds are the use case's, which settings may override per deployment (`GatePolicy.of`,
`EvidencePlan.of`): a run's parameters cannot change them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipelines.core.alert_budget import alert_budget
from pipelines.core.settings import Settings
from pipelines.core.use_case import Skip, UseCase
from pipelines.training.evidence import HIGHER_IS_BETTER, Improvement

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
    """The gate's thresholds and the metric they apply to: the use case's, overridden by settings only."""

    metric: str  # the primary metric's name ("roc_auc", "mae")
    higher_is_better: bool
    floor: float  # the first model's bound: at least this (higher is better) or at most this
    margin: float
    min_holdout_rows: int
    min_holdout_positives: int | Skip
    frozen_tolerance: float
    positive: str = "positive"  # what a positive label is called in messages

    @property
    def metric_label(self) -> str:
        """The metric as people write it: ROC AUC, MAE."""
        return self.metric.replace("_", " ").upper()

    @classmethod
    def of(cls, use_case: UseCase, settings: Settings) -> GatePolicy:
        """The use case's thresholds, each replaced by its setting when one is set (`DRIFTLOOP_GATE_*`)."""
        gate, metric = use_case.gate, use_case.metric

        def chosen(setting: float | None, declared: float) -> float:
            return declared if setting is None else setting

        positives = gate.min_holdout_positives
        if settings.gate_min_holdout_positives is not None and not isinstance(positives, Skip):
            positives = settings.gate_min_holdout_positives
        return cls(
            metric=metric.primary,
            higher_is_better=metric.higher_is_better,
            floor=chosen(settings.gate_floor, gate.floor),
            margin=chosen(settings.gate_margin, gate.margin),
            min_holdout_rows=int(chosen(settings.gate_min_holdout_rows, gate.min_holdout_rows)),
            min_holdout_positives=positives,
            frozen_tolerance=chosen(settings.gate_frozen_tolerance, gate.frozen_tolerance),
            positive=use_case.label.positive or "positive",
        )

    def better(self, score: float, than: float, by: float = 0.0) -> bool:
        """`score` beats `than` by more than `by`, in the metric's direction."""
        return score > than + by if self.higher_is_better else score < than - by

    def worse(self, score: float, than: float, by: float = 0.0) -> bool:
        """`score` falls behind `than` by more than `by`, in the metric's direction."""
        return score < than - by if self.higher_is_better else score > than + by


@dataclass(frozen=True)
class EvidencePlan:
    """How candidate and champion are compared on the holdout: the evidence metric (the use case's, or
    `DRIFTLOOP_GATE_EVIDENCE_METRIC`), the alert budget precision at budget reads, and the bootstrap's size and
    confidence (`DRIFTLOOP_GATE_RESAMPLES`, `DRIFTLOOP_GATE_CONFIDENCE`)."""

    metric: str
    budget: int | None  # alerts per day; None unless the metric is precision_at_budget
    resamples: int
    confidence: float

    @property
    def higher_is_better(self) -> bool:
        return HIGHER_IS_BETTER[self.metric]

    @classmethod
    def of(cls, use_case: UseCase, settings: Settings) -> EvidencePlan:
        """The use case's evidence metric unless a setting names another (settings validate it fits the label)."""
        metric = settings.gate_evidence_metric or use_case.metric.evidence_metric
        budget = alert_budget(use_case, settings)
        chosen_budget = None if metric != "precision_at_budget" or isinstance(budget, Skip) else budget
        return cls(metric, chosen_budget, settings.gate_resamples, settings.gate_confidence)


@dataclass(frozen=True)
class Candidate:
    """What the gate knows of a candidate: its scores on the primary metric and how it was made."""

    score: float
    champion_score: float | None  # None: no champion yet
    holdout_rows: int
    holdout_positives: int | None = None  # None: not counted (a regression)
    shuffled_labels: bool = False
    label_shift: str | None = None  # the label-mix guard's reason, when it holds the run
    frozen_score: float | None = None  # on the frozen evaluation set (pipelines/training/evaluation_set.py)
    champion_frozen_score: float | None = None
    evaluation_set: str = ""  # its fingerprint
    improvement: Improvement | None = None  # over the champion on the same holdout; None: not measured (older runs)


def decide(candidate: Candidate, policy: GatePolicy) -> GateDecision:
    score, champion, name = candidate.score, candidate.champion_score, policy.metric_label
    if candidate.shuffled_labels:
        return GateDecision(REJECT, "trained on shuffled labels: a test run is never promoted", "shuffled_labels")
    small = _too_small(candidate, policy)
    if small:
        return GateDecision(REJECT, small, "holdout_size")
    if candidate.label_shift:
        return GateDecision(REJECT, f"held: {candidate.label_shift}", "label_mix")
    if _worse_on_the_frozen_set(candidate, policy):
        return GateDecision(
            REJECT,
            f"frozen evaluation set {candidate.evaluation_set[:12]}: candidate {name} {candidate.frozen_score:.4f} "
            f"is worse than the champion's {candidate.champion_frozen_score:.4f} by more than "
            f"{policy.frozen_tolerance:.4f}",
            "frozen_set",
        )
    if math.isnan(score):
        return GateDecision(REJECT, f"candidate {name} is undefined on the holdout", "undefined_metric")
    if policy.worse(score, policy.floor):
        side = "below" if policy.higher_is_better else "above"
        return GateDecision(REJECT, f"candidate {name} {score:.4f} is {side} the floor {policy.floor:.4f}", "floor")
    if champion is None or math.isnan(champion):
        bound = ">=" if policy.higher_is_better else "<="
        return GateDecision(
            PROMOTE, f"no champion; candidate {name} {score:.4f} {bound} floor {policy.floor:.4f}", "first_model"
        )
    if candidate.improvement is not None:
        return _on_the_evidence(candidate.improvement, policy)
    if policy.better(score, champion, policy.margin):
        return GateDecision(
            PROMOTE,
            f"candidate {name} {score:.4f} beats champion {champion:.4f} by more than {policy.margin:.4f}",
            "beats_champion",
        )
    return GateDecision(
        REJECT,
        f"candidate {name} {score:.4f} does not beat champion {champion:.4f} by more than {policy.margin:.4f}",
        "not_better",
    )


def _on_the_evidence(improvement: Improvement, policy: GatePolicy) -> GateDecision:
    """Promote only when even the interval's lower bound of the improvement is above the margin: a candidate that
    merely scored higher on this holdout, by chance, is not promoted."""
    if improvement.undefined:
        holds = f"{improvement.rows} rows"
        if improvement.positives is not None:
            holds = f"{improvement.positives} {policy.positive} in {holds}"
        return GateDecision(
            REJECT,
            f"too few {policy.positive} to decide: {improvement.undefined}; the holdout holds {holds}",
            "too_few_positives",
        )
    said = evidence_text(improvement, policy.positive)
    if improvement.low > policy.margin:
        return GateDecision(PROMOTE, f"{said} > margin {policy.margin:.4f}", "beats_champion")
    return GateDecision(REJECT, f"{said}: its lower bound is not above the margin {policy.margin:.4f}", "not_better")


def evidence_text(improvement: Improvement, positive: str = "positives") -> str:
    """The improvement as the gate's reason says it: metric, point, interval, confidence and what it rests on."""
    return (
        f"{improvement.label} {improvement.candidate:.4f} vs the champion's {improvement.champion:.4f}: improvement "
        f"{improvement.point:+.4f} [{improvement.confidence:.0%} CI {improvement.low:+.4f}, {improvement.high:+.4f}] "
        f"over {_rested_on(improvement, positive)}"
    )


def _rested_on(improvement: Improvement, positive: str) -> str:
    """What the evidence rests on: the positives for a classifier, the rows for a regression."""
    return f"{improvement.rows} rows" if improvement.positives is None else f"{improvement.positives} {positive}"


def _too_small(candidate: Candidate, policy: GatePolicy) -> str | None:
    """Why the holdout is too small to judge, or None."""
    needs_positives = not isinstance(policy.min_holdout_positives, Skip)
    positives = candidate.holdout_positives if candidate.holdout_positives is not None else 0
    too_few_positives = needs_positives and positives < int(policy.min_holdout_positives)  # type: ignore[arg-type]
    if candidate.holdout_rows >= policy.min_holdout_rows and not too_few_positives:
        return None
    if needs_positives:
        return (
            f"holdout too small to judge: {candidate.holdout_rows} rows, {positives} {policy.positive} "
            f"(needs {policy.min_holdout_rows} and {policy.min_holdout_positives})"
        )
    reason = policy.min_holdout_positives.reason  # type: ignore[union-attr]
    return (
        f"holdout too small to judge: {candidate.holdout_rows} rows (needs {policy.min_holdout_rows}; "
        f"positives: skipped, {reason})"
    )


def _worse_on_the_frozen_set(candidate: Candidate, policy: GatePolicy) -> bool:
    """Worse than the champion on the frozen set (an undefined score there counts as worse)."""
    if candidate.champion_score is None or candidate.champion_frozen_score is None:
        return False  # no champion, or no frozen set yet: nothing to compare with
    if candidate.frozen_score is None or math.isnan(candidate.frozen_score):
        return True
    return policy.worse(candidate.frozen_score, candidate.champion_frozen_score, policy.frozen_tolerance)
