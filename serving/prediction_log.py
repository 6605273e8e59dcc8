"""The prediction log: every answered row, made durable off the request path, published by the hour.

Requests only append their rows to a bounded in-memory buffer. A committer thread writes whatever arrived
every `commit_s` (default 0.05 s) as one record of an append-only segment on local disk and fsyncs it (group
commit: one fsync per batch, not per request). When that thread falls behind (a busy machine, a long publish
holding the interpreter), the request that finds rows waiting longer than `commit_s` commits them itself
before it answers; a SIGKILL or an OOM kill therefore loses at most the rows answered in one commit interval.
Every `flush_s` the open segment is closed and a publisher thread turns closed segments into parquet parts
(`date=YYYY-MM-DD/hour=HH/part-*.parquet`, published whole) named after the segment, so publishing a segment
again after a crash replaces the same files: no row is ever published twice.

When segments cannot be written (a full disk) the rows wait in memory up to `max_waiting_rows`; past that
`accepting()` is false: the model server answers 503 with Retry-After and reports not-ready instead of
growing. `close()` (SIGTERM) commits and publishes everything. Segments of a process that died are published
by the next one that starts over the same segments folder.

A `listener` hears every committed batch (the stream of answers: `serving.answer_stream`), after its fsync, so
nothing reaches the stream that the log could lose; the segments of a process that died are heard again when
they are published (the stream's readers count an event once), so nothing the log kept is missing there either.
It hears them on a thread of its own: a slow stream never lengthens a commit (which bounds what a SIGKILL loses).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from pipelines.data.prediction_log_format import LOGGED_AT, LogRows, log_frame, log_table, partition_name
from pipelines.data.storage import Folder
from serving import log_segments as segments
from serving.metrics import PREDICTION_LOG_DROPPED, PREDICTION_LOG_ROWS, PREDICTION_LOG_WAITING
from serving.unavailable import Unavailable

logger = logging.getLogger(__name__)

SEGMENTS_FOLDER = ".segments"  # inside a local log's root: readers list `date=*/hour=*` only


class PredictionLogFull(Unavailable):
    """The log cannot take more rows: the server refuses before scoring (503 with Retry-After: serving.server)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{name}: the prediction log cannot record more answers now (its disk is full or failing)")


class PendingColumns(Protocol):
    """Rows kept as the request left them; their type builds the columns of a whole batch at commit time."""

    @classmethod
    def batch_columns(cls, batch: Sequence[Any]) -> dict[str, np.ndarray]: ...

    def __len__(self) -> int: ...


def _committed(pending: list[pd.DataFrame | PendingColumns]) -> LogRows:
    """A batch as one record: arrays when every row came from requests of one kind (the model server's case:
    no pandas on the commit path), else one frame of frames as they came, then each kind of pending rows
    (readers sort by time)."""
    first = pending[0]
    if not isinstance(first, pd.DataFrame) and all(type(item) is type(first) for item in pending):
        return type(first).batch_columns(pending)
    frames = [item for item in pending if isinstance(item, pd.DataFrame)]
    batches: dict[type[PendingColumns], list[PendingColumns]] = {}
    for item in pending:
        if not isinstance(item, pd.DataFrame):
            batches.setdefault(type(item), []).append(item)
    frames += [log_frame(kind.batch_columns(batch)) for kind, batch in batches.items()]
    return pd.concat(frames, ignore_index=True)


def _record(rows: LogRows) -> bytes:
    return segments.encode(rows) if isinstance(rows, pd.DataFrame) else segments.encode_table(log_table(rows))


class PredictionLog:
    """Every answered row, made durable in segments and published as parquet by the hour."""

    def __init__(
        self,
        root: Path | Folder,
        flush_s: float,
        segments_dir: Path | None = None,
        commit_s: float = 0.05,
        max_waiting_rows: int = 100_000,
        listener: Callable[[LogRows], None] | None = None,
    ) -> None:
        self.root = Folder.at(root)
        self.listener = listener
        self._heard: queue.Queue[LogRows | None] = queue.Queue()
        if segments_dir is None and self.root.remote:
            raise ValueError("a prediction log on an object store needs a local segments folder")
        self.segments_dir = segments_dir or self.root.local_path / SEGMENTS_FOLDER
        self.flush_s = flush_s
        self.commit_s = commit_s
        self.max_waiting_rows = max_waiting_rows
        self._buffer: list[pd.DataFrame | PendingColumns] = []
        self._buffered_rows = 0
        self._oldest_waiting: float | None = None  # monotonic time of the oldest uncommitted append
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._stop = threading.Event()
        self._sealed = threading.Event()
        self._threads = [
            threading.Thread(target=self._commit_loop, name="prediction-log-commit", daemon=True),
            threading.Thread(target=self._publish_loop, name="prediction-log-publish", daemon=True),
        ]
        self._listener_thread = threading.Thread(target=self._listen_loop, name="prediction-log-listener", daemon=True)
        self._folder: Path | None = None
        self._folder_lock: segments.FolderLock | None = None
        self._writer: segments.SegmentWriter | None = None
        self._closed = False
        self.rows_written = 0  # rows published as parquet by this process

    def start(self) -> PredictionLog:
        if not self.root.remote:
            self.root.local_path.mkdir(parents=True, exist_ok=True)
        self._folder, self._folder_lock = segments.new_instance_folder(self.segments_dir)
        self._writer = segments.SegmentWriter(self._folder)
        for thread in self._threads:
            thread.start()
        if self.listener is not None:
            self._listener_thread.start()
        atexit.register(self.close)
        return self

    # The request path --------------------------------------------------------------------------------------

    def accepting(self) -> bool:
        """False while the rows waiting in memory reach the bound (segments cannot be written)."""
        return self._buffered_rows < self.max_waiting_rows

    def append(self, rows: pd.DataFrame | PendingColumns) -> None:
        """Buffer rows: a frame, or `PendingColumns` (their columns built later, off the request path, a batch at
        a time). If the committer is late, commit here, so no answer goes out while rows older than `commit_s` wait."""
        now = time.monotonic()
        with self._lock:
            self._buffer.append(rows)
            self._buffered_rows += len(rows)
            if self._oldest_waiting is None:
                self._oldest_waiting = now
            late = now - self._oldest_waiting > self.commit_s
        if late and self._writer is not None and not self._closed:
            with contextlib.suppress(Exception):  # a failing disk: the rows wait, bounded (`accepting`)
                self.commit()

    # Commit: memory -> an fsynced segment ------------------------------------------------------------------

    def commit(self) -> int:
        """Write everything buffered so far as one fsynced record; returns the rows committed. On failure the
        rows go back to the front of the buffer (nothing is dropped) and the error is raised."""
        with self._commit_lock:
            with self._lock:
                pending, self._buffer = self._buffer, []
                rows = sum(len(item) for item in pending)
                oldest, self._oldest_waiting = self._oldest_waiting, None
            if not pending:
                return 0
            try:
                assert self._writer is not None
                rows_committed = _committed(pending)
                self._writer.append(_record(rows_committed))
            except Exception:
                with self._lock:
                    self._buffer = pending + self._buffer
                    self._oldest_waiting = oldest
                raise
            with self._lock:
                self._buffered_rows -= rows
            PREDICTION_LOG_WAITING.labels("memory").set(self._buffered_rows)
            self._tell(rows_committed)
            return rows

    def _tell(self, rows: LogRows) -> None:
        if self.listener is not None:
            self._heard.put(rows)

    def _listen_loop(self) -> None:
        """Hand committed batches to the listener, in commit order, until `close` says there are no more."""
        assert self.listener is not None
        while (rows := self._heard.get()) is not None:
            try:
                self.listener(rows)
            except Exception:  # noqa: BLE001 - the rows are durable; a listener never fails the log
                logger.exception("prediction log: the listener failed on a batch")

    def _commit_loop(self) -> None:
        sealed_at = time.monotonic()
        failing = False
        while not self._stop.wait(self.commit_s):
            try:
                self.commit()
                failing = False
            except Exception:  # noqa: BLE001 - the rows stay buffered; log once per failing stretch
                if not failing:
                    logger.exception("prediction log: writing a segment failed; rows wait in memory (bounded)")
                failing = True
                PREDICTION_LOG_WAITING.labels("memory").set(self._buffered_rows)
                continue
            if time.monotonic() - sealed_at >= self.flush_s:
                self._seal()
                sealed_at = time.monotonic()

    def _seal(self) -> None:
        with self._commit_lock:
            assert self._writer is not None
            if self._writer.seal() is not None:
                self._sealed.set()

    # Publish: closed segments -> parquet parts ---------------------------------------------------------------

    def publish(self) -> int:
        """Publish this process's closed segments and those of processes that died; returns the rows."""
        assert self._folder is not None
        with self._publish_lock:
            published = sum(self._publish_segment(path) for path in segments.sealed_segments(self._folder))
            with segments.orphaned_folders(self.segments_dir, self._folder) as orphans:
                for folder in orphans:
                    published += sum(
                        self._publish_segment(path, heard=False)
                        for path in segments.sealed_segments(folder, including_open=True)
                    )
                    segments.retire_folder(folder)
            return published

    def _publish_segment(self, path: Path, heard: bool = True) -> int:
        """Publish one segment as parquet parts; a dead process's (`heard=False`) is told to the listener too: it
        may have died before its listener heard the segment's last batches."""
        contents = segments.read_segment(path)
        if contents.torn_bytes:
            logger.warning("prediction log: %s ends in %d unreadable bytes (a torn record)", path, contents.torn_bytes)
            PREDICTION_LOG_DROPPED.labels("torn_record").inc()
        frame = contents.frame()
        if frame is not None:
            for hour, rows in frame.groupby(frame[LOGGED_AT].dt.floor("h"), sort=True):
                name = f"{partition_name(pd.Timestamp(hour))}/{_part_name(rows, path)}"
                self.root.write_parquet(rows, name, durable=True)  # on disk before its segment goes
            if not heard:
                self._tell(frame)
            rows_published = len(frame)
        else:
            rows_published = 0
        segments.remove_segment(path)
        self.rows_written += rows_published
        PREDICTION_LOG_ROWS.inc(rows_published)
        return rows_published

    def _publish_loop(self) -> None:
        while not self._stop.is_set():
            self._sealed.wait(self.flush_s)
            self._sealed.clear()
            if self._stop.is_set():
                return
            try:
                self.publish()
            except Exception:  # noqa: BLE001 - the segments stay on disk for the next try
                logger.exception("prediction log: publishing failed; segments kept for the next try")
            assert self._folder is not None
            PREDICTION_LOG_WAITING.labels("segments").set(len(segments.sealed_segments(self._folder)))

    def publish_now(self) -> None:
        """Commit, close the open segment and publish it in the caller's thread: a label that came back for an
        answer still in the segment lands as soon as this returns, not after the publisher thread wakes and the
        label route looks again. A failing disk changes nothing here: the rows stay buffered for the committer (or
        sealed for the publisher's next try), and the label waits as before."""
        with contextlib.suppress(Exception):
            self.commit()
            self._seal()
            self.publish()

    # Shutdown ----------------------------------------------------------------------------------------------

    def flush(self) -> int:
        """Commit, close the segment and publish now; returns the rows published (tests, shutdown)."""
        self.commit()
        self._seal()
        return self.publish()

    def close(self) -> None:
        """Stop both threads, then commit and publish the rest (idempotent); SIGTERM loses nothing."""
        if self._closed or self._folder is None:
            return
        self._closed = True
        self._stop.set()
        self._sealed.set()
        for thread in self._threads:
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=30)
        try:
            published = self.flush()
        except Exception:  # noqa: BLE001 - what could not be published stays in the segments folder
            logger.exception("prediction log: the final publish failed; the next server start publishes it")
            published = 0
        if self._listener_thread.is_alive():
            self._heard.put(None)  # after the final flush's batches: the listener hears them all, then stops
            self._listener_thread.join(timeout=30)
        if self._folder_lock is not None:
            self._folder_lock.release()
        with contextlib.suppress(OSError):
            segments.retire_folder(self._folder)
        logger.info("prediction log closed (%d rows in the final flush, %d in total)", published, self.rows_written)


def _part_name(rows: pd.DataFrame, segment: Path) -> str:
    """The same name every time this segment is published (so a second publish replaces, never duplicates),
    in time order like every other part."""
    return f"part-{pd.Timestamp(rows[LOGGED_AT].min()).value}-{segment.parent.name}-{segment.stem}.parquet"
