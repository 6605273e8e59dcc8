"""The local drift scheduler: what the cluster's CronJob does, on an interval, in one process.

It serves the drift metrics on `/metrics` (the CronJob pushes them instead) and keeps running when a
check fails (no champion yet, registry briefly away): the failure is logged and the next tick retries.
"""

from __future__ import annotations

import logging
import signal
import threading

from driftloop.errors import DriftloopError
from driftloop.settings import Settings

logger = logging.getLogger(__name__)


def run_scheduler(settings: Settings) -> None:
    from prometheus_client import start_http_server

    from driftloop.pipeline_runs.factory import runner_for
    from monitoring.check import run_check
    from monitoring.metrics import REGISTRY
    from monitoring.quality import record_realised_quality

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server, _ = start_http_server(settings.monitor_port, addr=settings.bind_host, registry=REGISTRY)
    logger.info(
        "drift scheduler: a check every %.0fs, metrics on :%d/metrics",
        settings.drift_check_interval_s,
        settings.monitor_port,
    )
    runner = runner_for(settings)
    while not stop.wait(settings.drift_check_interval_s):
        try:
            run_check(settings, runner)
            labels = settings.raw_data_dir / "labels.parquet"
            if labels.exists():  # labels that arrived since: realised quality beside drift
                record_realised_quality(settings, labels)
        except DriftloopError as error:
            logger.info("drift check skipped: %s", error.message)
        except Exception:  # noqa: BLE001 - one failed check must not stop the schedule
            logger.exception("drift check failed; retrying next interval")
    server.shutdown()
    logger.info("drift scheduler stopped")
