"""The local scheduler: what the cluster's CronJobs do, on intervals, in one process.

Two jobs: the drift check (with realised quality beside it) every DRIFTLOOP_DRIFT_CHECK_INTERVAL_S, and the
feature refresh (with the event store's compaction after it) every DRIFTLOOP_FEATURE_REFRESH_INTERVAL_S and
again just after each hour boundary, when the hour that ended becomes final. It serves the metrics on
`/metrics` (the CronJobs push them instead) and keeps running when a job fails (no champion yet, registry
briefly away): the failure is logged, the next tick retries.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from monitoring import metrics
from monitoring.check import run_check
from monitoring.quality import record_realised_quality
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.core.training_request import PipelineRunner
from pipelines.data.event_store import event_store_for
from pipelines.features.refresh import current_watermark, refresh_features

logger = logging.getLogger(__name__)

HOUR_S = 3600.0


def next_refresh_delay(now_s: float, last_run_s: float, interval_s: float, grace_s: float) -> float:
    """Seconds until the next refresh: the interval since the last run, or the hour boundary (plus a grace
    for the hour's last answers to reach the event store) when that comes first."""
    boundary = (now_s // HOUR_S + 1) * HOUR_S + grace_s
    if last_run_s < boundary - HOUR_S:  # the current hour's boundary has passed since the last run
        boundary -= HOUR_S
    return max(0.0, min(last_run_s + interval_s, boundary) - now_s)


def _guarded(name: str, job: Callable[[], None]) -> None:
    try:
        job()
    except DriftloopError as error:
        logger.info("%s skipped: %s", name, error.message)
    except Exception:  # noqa: BLE001 - one failed run must not stop the schedule
        logger.exception("%s failed; retrying next time", name)


def run_scheduler(settings: Settings, runner: PipelineRunner) -> None:
    from prometheus_client import start_http_server

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server, _ = start_http_server(settings.monitor_port, addr=settings.bind_host, registry=metrics.REGISTRY)
    watermark = current_watermark(settings)
    metrics.FEATURE_FRESHNESS.set_function(  # live, so a stopped refresh shows as growing staleness
        lambda: (datetime.now(UTC) - watermark).total_seconds() if watermark else float("nan")
    )

    def refresh() -> None:
        nonlocal watermark
        outcome = refresh_features(settings)
        watermark = current_watermark(settings)
        stamp = watermark.timestamp() if watermark else None
        metrics.record_feature_refresh(stamp, None, outcome.events_read, outcome.rows_written)
        compacted = {parts: run.parts_in for parts, run in outcome.compaction.items()}
        metrics.record_store_health(event_store_for(settings).unreadable_counts(), compacted)

    def check() -> None:
        run_check(settings, runner)
        record_realised_quality(settings)

    grace_s = 2 * settings.prediction_log_flush_s + 5
    logger.info(
        "scheduler: drift check every %.0fs, feature refresh every %.0fs and after each hour; metrics on :%d",
        settings.drift_check_interval_s, settings.feature_refresh_interval_s, settings.monitor_port,
    )  # fmt: skip
    last_refresh = last_check = time.time()
    _guarded("feature refresh", refresh)
    while not stop.is_set():
        now = time.time()
        until_refresh = next_refresh_delay(now, last_refresh, settings.feature_refresh_interval_s, grace_s)
        until_check = max(0.0, last_check + settings.drift_check_interval_s - now)
        if stop.wait(min(until_refresh, until_check)):
            break
        if until_refresh <= until_check:
            last_refresh = time.time()
            _guarded("feature refresh", refresh)
        else:
            last_check = time.time()
            _guarded("drift check", check)
    server.shutdown()
    logger.info("scheduler stopped")
