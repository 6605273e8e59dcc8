"""When drift should retrain: threshold, minimum rows, cooldown, one run in flight, one trigger per window.

A pure function of the check's result and the monitor's state, so every rule is testable without a
server and every decision carries the reason it was taken.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

TRIGGER = "trigger"
NO_TRIGGER = "no_trigger"
FAILED = "failed"  # the check could not run (the registry did not answer); nothing was decided


@dataclass(frozen=True)
class RetrainPolicy:
    """When drift is worth a retraining run: a threshold, enough rows to trust it, and a cooldown."""

    drift_share_threshold: float
    min_rows: int
    cooldown: timedelta


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


@dataclass(frozen=True)
class Decision:
    """Trigger or not, with the reason a person reads in `monitor status`."""

    action: str  # TRIGGER or NO_TRIGGER
    reason: str

    @property
    def triggers(self) -> bool:
        return self.action == TRIGGER


def decide(policy: RetrainPolicy, inputs: PolicyInputs) -> Decision:
    """The first rule that says no wins; otherwise trigger."""
    if inputs.window_key in inputs.handled_windows:
        return Decision(NO_TRIGGER, f"window {inputs.window_key} was already decided (idempotent re-run)")
    if inputs.rows < policy.min_rows:
        return Decision(NO_TRIGGER, f"too few rows: {inputs.rows} < {policy.min_rows}")
    if inputs.drift_share < policy.drift_share_threshold:
        return Decision(
            NO_TRIGGER, f"drift share {inputs.drift_share:.2f} < threshold {policy.drift_share_threshold:.2f}"
        )
    if inputs.run_in_flight:
        return Decision(NO_TRIGGER, f"a retraining run is already in flight ({inputs.run_in_flight})")
    if inputs.last_trigger_at is not None and inputs.now - inputs.last_trigger_at < policy.cooldown:
        remaining = policy.cooldown - (inputs.now - inputs.last_trigger_at)
        return Decision(NO_TRIGGER, f"cooling down: last trigger {inputs.last_trigger_at:%H:%M:%S}, {remaining} left")
    return Decision(
        TRIGGER,
        f"drift share {inputs.drift_share:.2f} >= {policy.drift_share_threshold:.2f} over {inputs.rows} rows",
    )
