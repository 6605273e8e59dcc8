"""A use case's declaration in words: what `driftloop use-case show` prints and people review."""

from __future__ import annotations

from collections.abc import Iterator

from pipelines.core.use_case import Skip, UseCase


def _skipped(value: object) -> str:
    return f"skipped ({value.reason})" if isinstance(value, Skip) else str(value)


def describe(use_case: UseCase) -> Iterator[str]:
    """One line per declared fact, grouped the way the contract is (`pipelines.core.use_case`)."""
    label, metric, gate = use_case.label, use_case.metric, use_case.gate
    yield f"use case   {use_case.name}: {use_case.description}"
    yield f"model      {use_case.model_name} (experiment {use_case.experiment}, Feast project {use_case.feast_project})"
    yield f"declared   fingerprint {use_case.fingerprint[:12]}"
    for entity in use_case.entities:
        yield f"entity     {entity.name} ({entity.key}): {entity.description}"
    for field in use_case.fields:
        values = list(field.allowed) if field.kind == "category" else field.domain
        yield f"field      {field.name} {field.kind} {values}: {field.description}"
    domain = "{0, 1}" if label.kind == "binary" else f"[{label.minimum}, {label.maximum}] {label.unit}".rstrip()
    delay = f"typical delay {label.typical_delay}, matures in {label.maturity_days} d"
    yield f"label      {label.name} {label.kind} {domain}, {delay}"
    for view in use_case.views:
        features = ", ".join(f"{feature.name} {feature.dtype}" for feature in view.features)
        uses = ", uses labels" if view.uses_labels else ""
        yield f"view       {view.name} by {view.entity} (ttl {view.ttl}, lookback {view.lookback}{uses}): {features}"
    direction = "higher" if metric.higher_is_better else "lower"
    yield f"metric     {metric.primary} ({direction} is better), calibration {_skipped(metric.calibration)}"
    budget = metric.alert_budget
    alerts = "" if isinstance(budget, Skip) else f" at {budget} alerts a day"
    yield f"evidence   the gate compares candidate and champion on {metric.evidence_metric}{alerts} (paired bootstrap)"
    yield f"score      {use_case.model.score_name} (MLflow predict fn {use_case.model.pyfunc_predict_fn})"
    yield (
        f"gate       floor {gate.floor}, margin {gate.margin}, holdout rows >= {gate.min_holdout_rows}, "
        f"positives {_skipped(gate.min_holdout_positives)}, frozen tolerance {gate.frozen_tolerance}, "
        f"label guard {_skipped(gate.label_guard)}, realised alert {gate.realised_alert}"
    )
    yield f"example    {dict(use_case.example_request)}"
