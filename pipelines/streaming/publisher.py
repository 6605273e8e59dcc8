"""Publishing events to the stream without ever failing the caller.

The model server publishes the answers its prediction log has just made durable, and a landing the events it
has just written; the event store already holds them, so the stream is a fast copy, not the record. When the
stream does not take them (Redis down, a locked file), the records wait in memory and go with the next publish;
past `max_waiting` records the oldest are dropped and counted (the event store and the replay still have them;
the online rows miss them while they are inside a window). A publish that fails logs once per failing stretch.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pipelines.streaming import metrics
from pipelines.streaming.backend import StreamBackend
from pipelines.streaming.open_stream import open_stream
from pipelines.streaming.records import EventColumns, StreamRoutes

if TYPE_CHECKING:
    import pandas as pd

    from pipelines.core.settings import Settings
    from pipelines.core.use_case import UseCase

logger = logging.getLogger(__name__)


class StreamPublisher:
    """Routes events to their streams and appends them, keeping what failed for the next try (bounded)."""

    def __init__(
        self, open_backend: Callable[[], StreamBackend], routes: StreamRoutes, max_waiting: int = 100_000
    ) -> None:
        self._open_backend = open_backend
        self._backend: StreamBackend | None = None
        self.routes = routes
        self.max_waiting = max_waiting
        self._waiting: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._failing = False

    def publish(self, events: EventColumns, answered_us: Sequence[int] | None = None) -> bool:
        """Append these events (and whatever waits from earlier); True when the stream took everything."""
        if not self.routes.active:
            return True
        records = self.routes.records(events, answered_us)
        with self._lock:
            batch = self._waiting + records
            try:
                if self._backend is None:
                    self._backend = self._open_backend()
                self._backend.append(batch)
            except Exception:  # noqa: BLE001 - the caller's work is done and durable; the stream catches up
                metrics.PUBLISH_FAILURES.inc()
                if not self._failing:
                    logger.exception("stream: publishing failed; %d records wait for the next try", len(batch))
                self._failing = True
                self._backend = None  # reconnect next time
                overflow = max(0, len(batch) - self.max_waiting)
                if overflow:
                    metrics.PUBLISH_DROPPED.inc(overflow)
                    logger.warning("stream: %d records dropped (more than %d waiting)", overflow, self.max_waiting)
                self._waiting = batch[overflow:]
                return False
            if self._failing:
                logger.info("stream: publishing works again (%d records caught up)", len(batch))
            self._failing = False
            self._waiting = []
            return True

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()
                self._backend = None


def landing_publisher(settings: Settings, use_case: UseCase) -> Callable[[pd.DataFrame], object] | None:
    """What a landing calls with its new events (`land_events(on_landed=...)`); None when nothing streams."""
    routes = StreamRoutes.of(use_case, settings.stream_partitions)
    if not routes.active:
        return None
    publisher = StreamPublisher(lambda: open_stream(settings), routes)
    return lambda events: publisher.publish(events[list(use_case.event_columns)])
