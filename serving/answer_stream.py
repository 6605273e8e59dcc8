"""The model server's side of the stream: every answer its prediction log commits goes to the stream as an event.

The prediction log calls this after each fsynced batch (`PredictionLog.listener`: the batch's arrays, or a dead
process's segment as a frame): the served rows with an event (not shadow answers), their event columns, and
when each was answered (the freshness clock starts there).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from pipelines.data.prediction_log_format import LOGGED_AT, LogRows, served_event_mask
from pipelines.data.schema import utc_nanoseconds
from pipelines.streaming.open_stream import open_stream
from pipelines.streaming.publisher import StreamPublisher
from pipelines.streaming.records import StreamRoutes

if TYPE_CHECKING:
    from pipelines.core.settings import Settings
    from pipelines.core.use_case import UseCase


def answer_stream(settings: Settings, use_case: UseCase) -> Callable[[LogRows], None] | None:
    """The prediction log's listener that publishes served events; None when the use case streams nothing."""
    routes = StreamRoutes.of(use_case, settings.stream_partitions)
    if not routes.active:
        return None
    publisher = StreamPublisher(lambda: open_stream(settings), routes)
    columns = list(use_case.event_columns)
    keys = use_case.entity_keys

    def publish(rows: LogRows) -> None:
        """A commit's arrays (or a dead process's segment as a frame) to the stream: its served events only."""
        served = served_event_mask(rows, keys)
        if served.any():
            answered = utc_nanoseconds(rows[LOGGED_AT])[served].astype(np.int64) // 1000
            publisher.publish({column: rows[column][served] for column in columns}, answered.tolist())

    return publish
