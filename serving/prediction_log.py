"""The prediction log: every answered row, appended off the request path, partitioned by hour.

Requests only append a frame to an in-memory buffer; a writer thread flushes it to parquet every
`flush_s` seconds (`date=YYYY-MM-DD/hour=HH/part-*.parquet`, published whole: a local file is renamed into
place, an object store's object appears when its upload completes, so readers never see half a file).
`close()` flushes what is left: the servers call it on shutdown (SIGTERM included), so an answered request
is never lost.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from pipelines.prediction_log_format import LOGGED_AT, partition_name
from pipelines.storage import Folder, unique_part_name
from serving.metrics import PREDICTION_LOG_ROWS

logger = logging.getLogger(__name__)


class PendingFrame(Protocol):
    """Rows kept as the request left them; their type builds the frame of a whole batch at flush time."""

    @classmethod
    def batch_frame(cls, batch: Sequence[Any]) -> pd.DataFrame: ...


def _frames(pending: list[pd.DataFrame | PendingFrame]) -> list[pd.DataFrame]:
    """Frames as they came, then each kind of pending rows built in one batch (readers sort by time)."""
    frames = [item for item in pending if isinstance(item, pd.DataFrame)]
    batches: dict[type[PendingFrame], list[PendingFrame]] = {}
    for item in pending:
        if not isinstance(item, pd.DataFrame):
            batches.setdefault(type(item), []).append(item)
    return frames + [kind.batch_frame(batch) for kind, batch in batches.items()]


class PredictionLog:
    def __init__(self, root: Path | Folder, flush_s: float) -> None:
        self.root = Folder.at(root)
        self.flush_s = flush_s
        self._buffer: list[pd.DataFrame | PendingFrame] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._closed = False
        self.rows_written = 0

    def start(self) -> PredictionLog:
        if not self.root.remote:
            self.root.local_path.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        atexit.register(self.close)
        return self

    def append(self, rows: pd.DataFrame | PendingFrame) -> None:
        """Buffer rows: a frame, or a `PendingFrame` (built later, off the request path, a batch at a time)."""
        with self._lock:
            self._buffer.append(rows)

    def flush(self) -> int:
        """Write everything buffered so far; returns the rows written."""
        with self._write_lock:
            with self._lock:
                pending, self._buffer = self._buffer, []
            if not pending:
                return 0
            frame = pd.concat(_frames(pending), ignore_index=True)
            try:
                self._write(frame)
            except Exception:
                with self._lock:  # nothing is dropped: the rows go back to the front of the buffer
                    self._buffer = pending + self._buffer
                raise
            self.rows_written += len(frame)
            PREDICTION_LOG_ROWS.inc(len(frame))
            return len(frame)

    def _write(self, frame: pd.DataFrame) -> None:
        for hour, rows in frame.groupby(frame[LOGGED_AT].dt.floor("h"), sort=True):
            self.root.write_parquet(rows, f"{partition_name(pd.Timestamp(hour))}/{unique_part_name()}")

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - keep the rows buffered for the next try
                logger.exception("prediction log flush failed; will retry")

    def close(self) -> None:
        """Stop the writer and flush the rest (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        written = self.flush()
        logger.info("prediction log closed (%d rows in the final flush, %d in total)", written, self.rows_written)
