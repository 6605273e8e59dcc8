"""The label-mix guard: has what the platform is about to learn from jumped away from what its champion learnt?

Why: labels are the lever on what the loop serves. Flipping a share of the history, or sending fabricated
transactions with made-up labels, shows as a fraud rate far from the champion's training window, in all labels
or in one channel of them (batch landings by an operator, labels sent over HTTP). A real fraud wave can look
the same: the guard holds the promotion with its reason for a person to look at, it does not decide what is
true. A jump counts when it is both large (beyond `max_ratio` either way) and certain (at least `Z_MIN`
standard errors of a binomial at the reference rate), so a small channel's noise holds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from pipelines.data.event_store import BATCH, HTTP, VIA
from pipelines.data.schema import IS_FRAUD

ALL = "all"
GROUPS = (ALL, BATCH, HTTP)
Z_MIN = 4.0


@dataclass(frozen=True)
class LabelGroup:
    """A group of labels and its positives: the unit the label-mix guard compares with the past."""

    rows: int
    positives: int

    @property
    def rate(self) -> float:
        return self.positives / self.rows if self.rows else float("nan")


def label_mix(current: pd.DataFrame) -> dict[str, LabelGroup]:
    """Current labels (`EventStore.labels(..., extra=(VIA,))`) counted in all and by channel."""
    groups = {ALL: current, BATCH: current[current[VIA] == BATCH], HTTP: current[current[VIA] == HTTP]}
    return {name: LabelGroup(len(frame), int(frame[IS_FRAUD].sum())) for name, frame in groups.items()}


def mix_metrics(mix: dict[str, LabelGroup]) -> dict[str, float]:
    """MLflow metrics of a run's label mix (what a later run compares itself with)."""
    metrics: dict[str, float] = {}
    for name, group in mix.items():
        metrics[f"labels_{name}"] = float(group.rows)
        metrics[f"labels_{name}_positives"] = float(group.positives)
    return metrics


def mix_from_metrics(metrics: dict[str, float]) -> dict[str, LabelGroup] | None:
    """A run's label mix back from its metrics; None for a run logged before the guard."""
    if f"labels_{ALL}" not in metrics:
        return None
    return {
        name: LabelGroup(int(metrics.get(f"labels_{name}", 0)), int(metrics.get(f"labels_{name}_positives", 0)))
        for name in GROUPS
    }


def shift_reason(window: dict[str, LabelGroup], reference: dict[str, LabelGroup], max_ratio: float) -> str | None:
    """Why the window's labels are held (None when they are not): each channel's fraud rate against the
    reference window's overall rate."""
    expected = reference[ALL].rate
    if not reference[ALL].rows or math.isnan(expected) or expected in (0.0, 1.0):
        return None  # no usable reference: the first model is judged by the floor alone
    found = []
    for name in GROUPS:
        group = window[name]
        if not group.rows:
            continue
        z = (group.rate - expected) / math.sqrt(expected * (1 - expected) / group.rows)
        ratio = group.rate / expected
        if abs(z) >= Z_MIN and not 1 / max_ratio <= ratio <= max_ratio:
            found.append(
                f"{name} labels' fraud rate {group.rate:.2%} over {group.rows} rows is {ratio:.1f}x the champion's "
                f"training window ({expected:.2%}), beyond {max_ratio:g}x"
            )
    shares = f"http share {window[HTTP].rows / max(window[ALL].rows, 1):.1%} (champion's window: "
    shares += f"{reference[HTTP].rows / max(reference[ALL].rows, 1):.1%})"
    return f"label mix: {'; '.join(found)}; {shares}" if found else None
