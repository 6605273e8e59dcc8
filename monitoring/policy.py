"""When to retrain: on estimated harm, and on drift only when configured to; threshold, minimum rows, cooldown,
one run in flight, no run while a canary is judged, one trigger per window, and never while an operator has
paused the loop.

Drift says the inputs moved, not that the model got worse: a harmless shift (more online shopping, bigger
baskets) moves features without moving fraud given them. The estimate of the champion's quality before the
labels arrive (monitoring/estimated_quality.py) says whether it got worse. So a window retrains when its
estimated harm is clear (the estimate's upper bound below the champion's reference by more than a margin),
and drift alone is recorded as "drifted, harmless" unless `DRIFTLOOP_RETRAIN_ON_DRIFT` says to act on it.
Without an estimate (a use case that has none, a champion without a calibration sample) drift decides, as
before. A pure function of the check's result and the monitor's state, so every rule is testable without a
server, and every decision carries the reason it was taken and which signal fired.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TRIGGER = "trigger"
NO_TRIGGER = "no_trigger"
DRIFTED_HARMLESS = "drifted_harmless"  # drift over the threshold, no estimated harm: recorded, not acted on
FAILED = "failed"  # the check could not run (the registry did not answer); nothing was decided
PAUSED = "paused"  # would have triggered, held by the loop's pause (`driftloop loop pause`): recorded, not submitted

DRIFT, HARM, NO_SIGNAL = "drift", "estimated_harm", "none"


@dataclass(frozen=True)
class RetrainPolicy:
    """When a window is worth a retraining run: drift threshold, estimated-harm margin, enough rows, cooldown."""

    drift_share_threshold: float
    min_rows: int
    cooldown: timedelta
    harm_margin: float = 0.0  # the estimate's bound must be this far past the reference (metric's units)
    retrain_on_drift: bool = False  # act on drift without estimated harm


@dataclass(frozen=True)
class HarmSignal:
    """The champion's estimated quality on its recent served answers, beside its reference (its holdout)."""

    metric: str
    value: float
    low: float
    high: float
    reference: float
    higher_is_better: bool
    arrived_share: float  # the share of those answers' labels in when it was estimated

    def harmed(self, margin: float) -> bool:
        """The whole interval is worse than the reference by more than `margin`."""
        if self.higher_is_better:
            return self.high < self.reference - margin
        return self.low > self.reference + margin

    def describe(self) -> str:
        name = self.metric.replace("_", " ").upper() if self.metric == "roc_auc" else self.metric.replace("_", " ")
        return (
            f"estimated {name} {self.value:.3f} [{self.low:.3f}, {self.high:.3f}] vs reference {self.reference:.3f} "
            f"with {self.arrived_share:.0%} of labels in"
        )


@dataclass(frozen=True)
class PolicyInputs:
    """Everything the policy decides from, so a decision can be replayed and tested without servers."""

    window_key: str
    drift_share: float
    rows: int
    now: datetime
    last_trigger_at: datetime | None
    run_in_flight: str | None
    handled_windows: frozenset[str]
    harm: HarmSignal | None = None  # None: no estimate (drift decides alone)
    pause: str | None = None  # the loop's pause in force (who, when, why: `LoopPause.describe`); None: running
    canary: str | None = None  # the canary still being judged (monitoring/canary_check.py); None: none runs


@dataclass(frozen=True)
class Decision:
    """Trigger or not, with the reason a person reads in `monitor status` and the signal that fired."""

    action: str  # TRIGGER, NO_TRIGGER, DRIFTED_HARMLESS or PAUSED
    reason: str
    signal: str = NO_SIGNAL  # DRIFT, HARM, "drift+estimated_harm" or NO_SIGNAL

    @property
    def triggers(self) -> bool:
        return self.action == TRIGGER


def decide(policy: RetrainPolicy, inputs: PolicyInputs) -> Decision:
    """The first rule that says no wins; otherwise trigger, naming the signals that fired. The pause is the last
    rule, so a paused decision is exactly one that would have triggered."""
    if inputs.window_key in inputs.handled_windows:
        return Decision(NO_TRIGGER, f"window {inputs.window_key} was already decided (idempotent re-run)")
    if inputs.rows < policy.min_rows:
        return Decision(NO_TRIGGER, f"too few rows: {inputs.rows} < {policy.min_rows}")
    drifted = inputs.drift_share >= policy.drift_share_threshold
    harmed = inputs.harm is not None and inputs.harm.harmed(policy.harm_margin)
    drift_words = f"drift share {inputs.drift_share:.2f} {'>=' if drifted else '<'} {policy.drift_share_threshold:.2f}"
    harm_words = _harm_words(inputs.harm, harmed, policy.harm_margin)
    signals = [name for name, fired in ((DRIFT, drifted), (HARM, harmed)) if fired]
    if not signals:
        return Decision(NO_TRIGGER, "; ".join(filter(None, [drift_words, harm_words])))
    acts_on_drift = policy.retrain_on_drift or inputs.harm is None
    if not harmed and not acts_on_drift:
        return Decision(
            DRIFTED_HARMLESS,
            f"drifted, harmless: {drift_words} over {inputs.rows} rows, but {harm_words}; not retraining "
            "(DRIFTLOOP_RETRAIN_ON_DRIFT is false)",
            DRIFT,
        )
    signal = "+".join(signals)
    if inputs.run_in_flight:
        return Decision(NO_TRIGGER, f"a retraining run is already in flight ({inputs.run_in_flight})", signal)
    if inputs.canary is not None:
        return Decision(NO_TRIGGER, f"a canary is running ({inputs.canary}); retraining waits for its decision", signal)
    if inputs.last_trigger_at is not None and inputs.now - inputs.last_trigger_at < policy.cooldown:
        remaining = policy.cooldown - (inputs.now - inputs.last_trigger_at)
        return Decision(
            NO_TRIGGER, f"cooling down: last trigger {inputs.last_trigger_at:%H:%M:%S}, {remaining} left", signal
        )
    fired = [words for name, words in ((DRIFT, drift_words), (HARM, harm_words)) if name in signals]
    because = f"{' and '.join(fired)} over {inputs.rows} rows"
    if inputs.pause is not None:
        return Decision(PAUSED, f"held by the pause ({inputs.pause}); would have triggered: {because}", signal)
    return Decision(TRIGGER, because, signal)


def _harm_words(harm: HarmSignal | None, harmed: bool, margin: float) -> str:
    if harm is None:
        return "no quality estimate"
    verdict = "harm" if harmed else "no harm"
    return f"{harm.describe()}: {verdict} (margin {margin:.2f})"
