"""The label-mix guard: has what the platform is about to learn from jumped away from what its champion learnt?

Why: labels are the lever on what the loop serves. Flipping a share of the history, or sending fabricated
events with made-up labels, shows as a label mix far from the champion's training window, in all labels or in
one channel of them (batch landings by an operator, labels sent over HTTP): a classifier's positive rate
(`RateShift`), a regression's mean (`MeanShift`). A real wave can look the same: the guard holds the promotion
with its reason for a person to look at, it does not decide what is true. A jump counts when it is both large
(beyond `max_ratio` either way) and certain (at least `z_min` standard errors from the reference: a binomial's
at the reference rate, or the reference's sample standard deviation), so a small channel's noise holds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipelines.core.use_case import Label, MeanShift, RateShift
from pipelines.data.event_store import BATCH, HTTP, VIA

ALL = "all"
GROUPS = (ALL, BATCH, HTTP)


@dataclass(frozen=True)
class LabelGroup:
    """A group of labels, summed: the unit the label-mix guard compares with the past."""

    rows: int
    positives: int  # labels equal to 1 (a classifier's)
    total: float = 0.0  # the labels' sum (a regression's mean and deviation come from these two)
    total_sq: float = 0.0

    @property
    def rate(self) -> float:
        return self.positives / self.rows if self.rows else float("nan")

    @property
    def mean(self) -> float:
        return self.total / self.rows if self.rows else float("nan")

    @property
    def sd(self) -> float:
        """Sample standard deviation of the labels (NaN under two rows)."""
        if self.rows < 2:
            return float("nan")
        return math.sqrt(max(self.total_sq - self.rows * self.mean**2, 0.0) / (self.rows - 1))


def label_mix(current: pd.DataFrame, label: str) -> dict[str, LabelGroup]:
    """Current labels (`EventStore.labels(..., extra=(VIA,))`) summed in all and by channel."""
    groups = {ALL: current, BATCH: current[current[VIA] == BATCH], HTTP: current[current[VIA] == HTTP]}
    mix = {}
    for name, frame in groups.items():
        values = frame[label].to_numpy(dtype="float64")
        positives = int((values == 1).sum())
        mix[name] = LabelGroup(len(frame), positives, float(values.sum()), float((values**2).sum()))
    return mix


def mix_metrics(mix: dict[str, LabelGroup]) -> dict[str, float]:
    """MLflow metrics of a run's label mix (what a later run compares itself with)."""
    metrics: dict[str, float] = {}
    for name, group in mix.items():
        metrics[f"labels_{name}"] = float(group.rows)
        metrics[f"labels_{name}_positives"] = float(group.positives)
        metrics[f"labels_{name}_sum"] = group.total
        metrics[f"labels_{name}_sum_sq"] = group.total_sq
    return metrics


def mix_from_metrics(metrics: dict[str, float]) -> dict[str, LabelGroup] | None:
    """A run's label mix back from its metrics; None for a run logged before the guard."""
    if f"labels_{ALL}" not in metrics:
        return None
    return {
        name: LabelGroup(
            int(metrics.get(f"labels_{name}", 0)),
            int(metrics.get(f"labels_{name}_positives", 0)),
            metrics.get(f"labels_{name}_sum", float(metrics.get(f"labels_{name}_positives", 0))),
            metrics.get(f"labels_{name}_sum_sq", float(metrics.get(f"labels_{name}_positives", 0))),
        )
        for name in GROUPS
    }


def shift_reason(
    window: dict[str, LabelGroup], reference: dict[str, LabelGroup], guard: RateShift | MeanShift, label: Label
) -> str | None:
    """Why the window's labels are held (None when they are not): each channel's positive rate (RateShift) or
    mean (MeanShift) against the reference window's overall one."""
    found = (
        _rate_shifts(window, reference[ALL], guard, label)
        if isinstance(guard, RateShift)
        else _mean_shifts(window, reference[ALL], guard, label)
    )
    if found is None or not found:
        return None
    shares = f"http share {window[HTTP].rows / max(window[ALL].rows, 1):.1%} (champion's window: "
    shares += f"{reference[HTTP].rows / max(reference[ALL].rows, 1):.1%})"
    return f"label mix: {'; '.join(found)}; {shares}"


def _rate_shifts(
    window: dict[str, LabelGroup], reference: LabelGroup, guard: RateShift, label: Label
) -> list[str] | None:
    expected = reference.rate
    if not reference.rows or math.isnan(expected) or expected in (0.0, 1.0):
        return None  # no usable reference: the first model is judged by the floor alone
    found = []
    for name in GROUPS:
        group = window[name]
        if not group.rows:
            continue
        z = (group.rate - expected) / math.sqrt(expected * (1 - expected) / group.rows)
        ratio = group.rate / expected
        if abs(z) >= guard.z_min and not 1 / guard.max_ratio <= ratio <= guard.max_ratio:
            found.append(
                f"{name} labels' {label.positive or 'positive'} rate {group.rate:.2%} over {group.rows} rows is "
                f"{ratio:.1f}x the champion's training window ({expected:.2%}), beyond {guard.max_ratio:g}x"
            )
    return found


def _mean_shifts(
    window: dict[str, LabelGroup], reference: LabelGroup, guard: MeanShift, label: Label
) -> list[str] | None:
    expected, spread = reference.mean, reference.sd
    if reference.rows < 2 or math.isnan(spread) or spread == 0 or expected == 0:
        return None  # no usable reference
    found = []
    for name in GROUPS:
        group = window[name]
        if not group.rows:
            continue
        z = (group.mean - expected) / (spread / math.sqrt(group.rows))
        ratio = group.mean / expected
        if abs(z) >= guard.z_min and not 1 / guard.max_ratio <= ratio <= guard.max_ratio:
            found.append(
                f"{name} labels' mean {label.name} {group.mean:.2f} over {group.rows} rows is {ratio:.1f}x the "
                f"champion's training window ({expected:.2f}), beyond {guard.max_ratio:g}x"
            )
    return found
