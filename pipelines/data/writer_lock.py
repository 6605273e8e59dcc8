"""Writer locks: one writer at a time for the event store and for a feature refresh.

On one machine a file lock does it (every writer is a process here). When the data lives on the object store,
writers may run on any node of the cluster, so they take a PostgreSQL advisory lock in the database the cluster
already runs (the Feast registry's): it is held by a session, so a writer that dies releases it with its
connection.

A wait can be bounded (`timeout_s`): past it, `WriterLockTimeout` says who is busy, so a request answers "try
again" (503 with Retry-After) instead of holding its worker behind a long landing.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.core.database_url import libpq_url
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout

if TYPE_CHECKING:
    from pipelines.core.settings import Settings
    from pipelines.data.storage import Folder


POLL_S = (0.002, 0.05)  # the first and the longest pause between two tries of a bounded wait


class WriterLockTimeout(DriftloopError):
    """Another writer held the lock for longer than this one may wait."""

    def __init__(self, name: str, timeout_s: float) -> None:
        super().__init__(
            f"the {name} writer lock stayed busy for {timeout_s:g} s (another landing or compaction holds it); "
            "try again shortly, or raise DRIFTLOOP_WRITER_LOCK_TIMEOUT_S"
        )
        self.retry_after_s = max(1.0, timeout_s)


def _wait(try_once: Callable[[], bool], name: str, timeout_s: float | None) -> None:
    """Call `try_once` until it takes the lock; past `timeout_s`, raise WriterLockTimeout."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    pause = POLL_S[0]
    while not try_once():
        if deadline is not None and time.monotonic() + pause > deadline:
            raise WriterLockTimeout(name, timeout_s or 0.0)
        time.sleep(pause)
        pause = min(pause * 2, POLL_S[1])


@contextmanager
def file_lock(path: Path, timeout_s: float | None = None) -> Iterator[None]:
    """An exclusive lock on `path` among this machine's processes (waiting at most `timeout_s`; None: forever)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        if timeout_s is None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        else:
            _wait(lambda: _try_flock(handle.fileno()), path.stem.lstrip("."), timeout_s)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _try_flock(descriptor: int) -> bool:
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same in every process and release)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def postgres_lock(url: str, name: str, timeout_s: float | None = None) -> Iterator[None]:
    """An exclusive lock named `name` among every process that reaches the database at `url` (waiting at most
    `timeout_s`; None: forever)."""
    import psycopg

    key = advisory_key(f"driftloop:{name}")
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        if timeout_s is None:
            connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        else:

            def taken() -> bool:
                row = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                return bool(row and row[0])

            _wait(taken, name, timeout_s)
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def folder_lock(folder: Folder, name: str, timeout_s: float | None = None) -> AbstractContextManager[None]:
    """The file lock `name` inside a local data folder."""
    return file_lock(folder.local_path / f".{name}.lock", timeout_s)


def uses_postgres_locks(settings: Settings) -> bool:
    """Writers on other nodes are possible only when the data is on the object store; the Feast registry's
    PostgreSQL then serialises them."""
    return bool(settings.object_store_url) and Layout.from_settings(settings).feast_registry_is_postgresql


def writer_lock(
    settings: Settings, name: str, folder: Folder, timeout_s: float | None = None
) -> AbstractContextManager[None]:
    """The lock `name`'s writers take: PostgreSQL's in a cluster with an object store, else a file lock (in the
    data folder when it is local, as before; in the state folder when this machine writes to an object store).
    `timeout_s` bounds the wait (None: wait as long as it takes)."""
    layout = Layout.from_settings(settings)
    if settings.object_store_url and settings.mode == "kind" and not layout.feast_registry_is_postgresql:
        raise DriftloopError(
            f"writing to the object store in the cluster needs a PostgreSQL advisory lock ({name}), and "
            "DRIFTLOOP_FEAST_REGISTRY_URI names no PostgreSQL database: give this workload the registry's reader URL "
            "(the key feast-registry-reader-uri of the chart's database Secret)"
        )
    if uses_postgres_locks(settings):
        return postgres_lock(layout.feast_registry, name, timeout_s)
    if folder.remote:
        return file_lock(layout.locks / f"{name}.lock", timeout_s)
    return folder_lock(folder, name, timeout_s)
