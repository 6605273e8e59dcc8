"""The alerts a team works per day: the use case declares it, a deployment may set its own."""

from __future__ import annotations

from pipelines.core.settings import Settings
from pipelines.core.use_case import Skip, UseCase


def alert_budget(use_case: UseCase, settings: Settings) -> int | Skip:
    """`DRIFTLOOP_ALERT_BUDGET_PER_DAY` when set and the use case alerts at all, else the declared budget."""
    declared = use_case.metric.alert_budget
    if isinstance(declared, Skip) or settings.alert_budget_per_day is None:
        return declared
    return settings.alert_budget_per_day
