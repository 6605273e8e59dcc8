"""Each pushed gauge has one owning job, so no CronJob's push resets another job's gauges."""

from __future__ import annotations

from monitoring import metrics


def test_every_monitoring_gauge_is_pushed_by_exactly_one_job() -> None:
    owned = [collector for collectors in metrics.JOB_METRICS.values() for collector in collectors]
    assert len(owned) == len(set(owned)), "a gauge pushed by two jobs"
    assert set(owned) == set(metrics.REGISTRY._collector_to_names), "a gauge no job pushes (or one outside REGISTRY)"
