"""How long labels take to arrive, learnt from the labels that did, and how mature a cohort of answers is now.

Quality can only be measured on labelled answers, and labels come late (fraud's chargebacks days after the
transaction; delivery's handover times within the hour). An event whose label has not arrived yet is not a
negative: it is *censored* at its age. The arrival curve is therefore a Kaplan-Meier estimate over every event,
labelled or still waiting, and a cohort's expected maturity is the curve at its rows' ages.

A classifier's classes may arrive at different speeds (a confirmed fraud and a settled payment take different
paths), and a waiting event's class is unknown. The per-class curves are fitted by expectation-maximisation: a
waiting event counts towards each class with the probability that an event of that class would still be
waiting at its age, and the class shares are re-estimated from those weights. Counting only the arrived labels
instead would make the slow class look fast and the fast class look common. The classes are told apart by the
events old enough for every label to have arrived: the history read must be longer than the longest delay
(the use case's label maturity), or a class that never arrives would explain the waiting events as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

HOUR_S = 3600.0
EM_ITERATIONS = 25
EM_TOLERANCE = 1e-6


@dataclass(frozen=True)
class ArrivalCurve:
    """The share of labels arrived within a delay: one minus the Kaplan-Meier survival of "still waiting"."""

    delays_h: np.ndarray  # the distinct delays at which labels arrived, increasing (hours)
    arrived: np.ndarray  # the share arrived within each of them, non-decreasing in [0, 1]

    def arrived_within(self, hours: np.ndarray | float) -> np.ndarray:
        """The share of labels arrived within each delay (a step function: 0 before the first arrival)."""
        index = np.searchsorted(self.delays_h, np.atleast_1d(np.asarray(hours, dtype=np.float64)), side="right")
        padded = np.concatenate([[0.0], self.arrived])
        return np.asarray(padded[index], dtype=np.float64)

    @property
    def median_h(self) -> float:
        """The delay by which half the labels arrived (NaN if the curve never reaches a half)."""
        reached = np.nonzero(self.arrived >= 0.5)[0]
        return float(self.delays_h[reached[0]]) if reached.size else float("nan")


def arrival_curve(durations_h: np.ndarray, arrived: np.ndarray, weights: np.ndarray | None = None) -> ArrivalCurve:
    """Kaplan-Meier over events that got their label after `durations_h` (arrived) or have waited that long so
    far (not arrived: censored), each counted with its weight: at each distinct duration, the share still
    waiting is multiplied by one minus the weight that arrived then over the weight still at risk (lifelines'
    product-limit estimate, held equal to it by a test; written out because the per-class fit calls it up to
    fifty times a check, and lifelines' fitter took 10 ms a call)."""
    durations = np.asarray(durations_h, dtype=np.float64)
    observed = np.asarray(arrived, dtype=bool)
    weight = np.ones(durations.size) if weights is None else np.asarray(weights, dtype=np.float64)
    times, position = np.unique(durations, return_inverse=True)
    leaving = np.bincount(position, weights=weight, minlength=times.size)  # weight whose duration ends here
    arriving = np.bincount(position[observed], weights=weight[observed], minlength=times.size)
    at_risk = leaving[::-1].cumsum()[::-1]  # weight with a duration at or after each time
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - arriving / at_risk, 1.0)
    waiting = np.cumprod(factor)
    keep = times > 0  # a curve starts at t=0 with no label arrived
    return ArrivalCurve(times[keep], np.clip(1.0 - waiting[keep], 0.0, 1.0))


@dataclass(frozen=True)
class DelayModel:
    """The labels' arrival: overall, and per class for a classifier (with the classes' shares among all events,
    waiting ones included)."""

    overall: ArrivalCurve
    per_class: dict[int, ArrivalCurve] = field(default_factory=dict)
    class_shares: dict[int, float] = field(default_factory=dict)
    events: int = 0
    arrived: int = 0

    def expected_arrived(self, ages_h: np.ndarray) -> float:
        """The share of a cohort's labels expected to have arrived by now, from its rows' ages (hours)."""
        ages = np.asarray(ages_h, dtype=np.float64)
        return float(self.overall.arrived_within(ages).mean()) if ages.size else float("nan")


def fit_delay_model(ages_h: np.ndarray, delays_h: np.ndarray, classes: np.ndarray | None = None) -> DelayModel:
    """The arrival curves from every event's age (hours since it happened) and its label's delay (hours; NaN
    while it is still waiting). `classes` (a classifier's label per event, NaN while waiting) adds the per-class
    curves and the class shares."""
    ages = np.asarray(ages_h, dtype=np.float64)
    delays = np.asarray(delays_h, dtype=np.float64)
    arrived = ~np.isnan(delays)
    durations = np.where(arrived, delays, ages)
    overall = arrival_curve(durations, arrived)
    model = DelayModel(overall, events=int(ages.size), arrived=int(arrived.sum()))
    if classes is None or not arrived.any():
        return model
    labels = np.asarray(classes, dtype=np.float64)
    per_class, shares = _per_class_curves(durations, arrived, labels, ages[~arrived])
    return DelayModel(overall, per_class, shares, model.events, model.arrived)


def _per_class_curves(
    durations: np.ndarray, arrived: np.ndarray, labels: np.ndarray, waiting_ages: np.ndarray
) -> tuple[dict[int, ArrivalCurve], dict[int, float]]:
    """Expectation-maximisation over the waiting events' unknown classes (see the module)."""
    values = sorted(int(value) for value in np.unique(labels[arrived]))
    counts = {value: float(np.sum(labels[arrived] == value)) for value in values}
    shares = {value: counts[value] / sum(counts.values()) for value in values}
    waiting = durations[~arrived]
    curves: dict[int, ArrivalCurve] = {}
    for iteration in range(EM_ITERATIONS):
        # E: each class's weight for a waiting event from the current curves (its chance of still waiting).
        still = {v: shares[v] * (1.0 - curves[v].arrived_within(waiting_ages)) if v in curves else
                 np.full(waiting.size, shares[v]) for v in values}  # fmt: skip
        total = np.maximum(sum(still.values()), 1e-12)
        weights = {v: still[v] / total for v in values}
        # M: each class's curve over its arrived events and its share of the waiting ones.
        for v in values:
            mine = arrived & (labels == v)
            curves[v] = arrival_curve(
                np.concatenate([durations[mine], waiting]),
                np.concatenate([np.ones(int(mine.sum()), bool), np.zeros(waiting.size, bool)]),
                np.concatenate([np.ones(int(mine.sum())), np.maximum(weights[v], 1e-9)]),
            )
        updated = {v: (counts[v] + float(weights[v].sum())) / durations.size for v in values}
        converged = iteration > 0 and max(abs(updated[v] - shares[v]) for v in values) < EM_TOLERANCE
        shares = updated
        if converged:
            break
    return curves, shares
