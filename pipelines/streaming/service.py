"""`driftloop serve stream`: the stream worker as a long-running process, with its metrics on `/metrics`.

Worker `DRIFTLOOP_STREAM_WORKER_INDEX` of `DRIFTLOOP_STREAM_WORKERS` keeps the partitions whose number modulo the
workers is its index (a StatefulSet's ordinal in the cluster). Rows go through each view's Feast push source into
the online store, with last-write-wins semantics: this worker is the only writer of its entities' rows.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from pipelines.core.use_case import FeatureView, load_use_case
from pipelines.features.store import open_feature_store
from pipelines.streaming.open_stream import open_stream
from pipelines.streaming.records import StreamRoutes
from pipelines.streaming.worker import Push, StreamWorker

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

    from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)


def feast_push(store: FeatureStore) -> Push:
    """Write a view's rows through its push source into the online store (Feast validates and converts them)."""
    from feast.data_source import PushMode

    def push(view: FeatureView, rows: pd.DataFrame) -> None:
        store.push(view.push_source, rows, to=PushMode.ONLINE)

    return push


def stream_worker(settings: Settings, store: FeatureStore) -> StreamWorker:
    """The worker these settings describe: its streams, the stream backend, and the Feast store it pushes to."""
    use_case = load_use_case(settings.use_case)
    routes = StreamRoutes.of(use_case, settings.stream_partitions)
    streams = routes.owned(settings.stream_worker_index, settings.stream_workers)
    return StreamWorker(
        use_case,
        open_stream(settings),
        routes,
        streams,
        feast_push(store),
        read_batch=settings.stream_read_batch,
        retention_s=settings.stream_retention_s,
    )


def wait_for_push_sources(store: FeatureStore, views: list[FeatureView], stop: threading.Event) -> bool:
    """Wait until the registry knows every streamed view (`features apply` may still be running as the platform
    starts); False when stopped first."""
    from feast.errors import FeatureViewNotFoundException

    waiting_logged = False
    while not stop.is_set():
        try:
            for view in views:
                store.get_feature_view(view.name, allow_registry_cache=False)
            return True
        except FeatureViewNotFoundException:
            if not waiting_logged:
                logger.info("stream worker: waiting for the streamed views to be registered (`features apply`)")
                waiting_logged = True
            stop.wait(1.0)
    return False


def run_stream_worker(settings: Settings) -> None:
    """Serve `/metrics`, then rebuild and read until SIGTERM/SIGINT."""
    from prometheus_client import start_http_server

    store = open_feature_store(settings, last_write_wins=True)
    worker = stream_worker(settings, store)
    if not worker.streams:
        raise SystemExit(f"use case {settings.use_case!r} has no streamed feature view: nothing to keep")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    start_http_server(settings.stream_port, addr=settings.bind_host)
    if not wait_for_push_sources(store, worker.views, stop):
        return
    logger.info(
        "stream worker %d of %d: %d streams, metrics on :%d",
        settings.stream_worker_index, settings.stream_workers, len(worker.streams), settings.stream_port,
    )  # fmt: skip
    worker.run(stop)
    worker.backend.close()
    logger.info("stream worker stopped")
