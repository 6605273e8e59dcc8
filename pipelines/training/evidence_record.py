"""The gate's evidence on the MLflow run and the model version: evaluate writes it, the gate step reads it back.

Evaluate computes the improvement where both models are loaded; the gate is a separate step (a separate process
under KFP) that reads the run, so the improvement travels as run metrics and tags, named in
`pipelines.registry.names`, and is read back here into the same `Improvement`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pipelines.registry.names import RunMetric, RunTag, VersionTag
from pipelines.training.evidence import Improvement


def run_record(improvement: Improvement) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, tags) to log on the training run."""
    metrics = {
        RunMetric.CANDIDATE.value: improvement.candidate,
        RunMetric.CHAMPION.value: improvement.champion,
        RunMetric.IMPROVEMENT.value: improvement.point,
        RunMetric.IMPROVEMENT_LOW.value: improvement.low,
        RunMetric.IMPROVEMENT_HIGH.value: improvement.high,
        RunMetric.CONFIDENCE.value: improvement.confidence,
        RunMetric.ROWS.value: float(improvement.rows),
        RunMetric.RESAMPLES.value: float(improvement.resamples),
    }
    if improvement.positives is not None:
        metrics[RunMetric.POSITIVES.value] = float(improvement.positives)
    tags = {RunTag.EVIDENCE_METRIC.value: improvement.metric}
    if improvement.undefined:
        tags[RunTag.EVIDENCE_UNDEFINED.value] = improvement.undefined
    return metrics, tags


def from_run(metrics: Mapping[str, float], tags: Mapping[str, str]) -> Improvement | None:
    """The improvement evaluate recorded on the run; None when it recorded none (no champion, or a run from
    before the evidence was measured)."""
    metric = tags.get(RunTag.EVIDENCE_METRIC)
    if not metric or RunMetric.IMPROVEMENT not in metrics:
        return None
    positives = metrics.get(RunMetric.POSITIVES)
    return Improvement(
        metric=metric,
        candidate=metrics[RunMetric.CANDIDATE],
        champion=metrics[RunMetric.CHAMPION],
        point=metrics[RunMetric.IMPROVEMENT],
        low=metrics[RunMetric.IMPROVEMENT_LOW],
        high=metrics[RunMetric.IMPROVEMENT_HIGH],
        confidence=metrics[RunMetric.CONFIDENCE],
        positives=None if positives is None else int(positives),
        rows=int(metrics[RunMetric.ROWS]),
        resamples=int(metrics[RunMetric.RESAMPLES]),
        undefined=tags.get(RunTag.EVIDENCE_UNDEFINED, ""),
    )


def version_tags(improvement: Improvement) -> dict[str, str]:
    """What the registered version keeps of the evidence that promoted it."""
    tags = {
        VersionTag.EVIDENCE_METRIC.value: improvement.metric,
        VersionTag.IMPROVEMENT.value: f"{improvement.point:+.4f}",
        VersionTag.IMPROVEMENT_CI.value: "" if math.isnan(improvement.low) else improvement.interval,
        VersionTag.EVIDENCE_CONFIDENCE.value: f"{improvement.confidence:g}",
    }
    if improvement.positives is not None:
        tags[VersionTag.EVIDENCE_POSITIVES.value] = str(improvement.positives)
    return tags
