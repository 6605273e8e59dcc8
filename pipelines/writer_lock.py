"""Writer locks: one writer at a time for the event store and for a feature refresh.

On one machine a file lock does it (every writer is a process here). When the data lives on the object store,
writers may run on any node of the cluster, so they take a PostgreSQL advisory lock in the database the cluster
already runs (the Feast registry's): it is held by a session, so a writer that dies releases it with its
connection.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from driftloop.core.database_url import libpq_url
from driftloop.core.errors import DriftloopError

if TYPE_CHECKING:
    from driftloop.core.settings import Settings
    from pipelines.storage import Folder


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` among this machine's processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a lock name (the same in every process and release)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def postgres_lock(url: str, name: str) -> Iterator[None]:
    """An exclusive lock named `name` among every process that reaches the database at `url`."""
    import psycopg

    key = advisory_key(f"driftloop:{name}")
    with psycopg.connect(libpq_url(url), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def folder_lock(folder: Folder, name: str) -> AbstractContextManager[None]:
    """The file lock `name` inside a local data folder."""
    return file_lock(folder.local_path / f".{name}.lock")


def uses_postgres_locks(settings: Settings) -> bool:
    """Writers on other nodes are possible only when the data is on the object store; the Feast registry's
    PostgreSQL then serialises them."""
    return bool(settings.object_store_url) and settings.feast_registry_is_postgresql


def writer_lock(settings: Settings, name: str, folder: Folder) -> AbstractContextManager[None]:
    """The lock `name`'s writers take: PostgreSQL's in a cluster with an object store, else a file lock (in the
    data folder when it is local, as before; in the state folder when this machine writes to an object store)."""
    if settings.object_store_url and settings.mode == "kind" and not settings.feast_registry_is_postgresql:
        raise DriftloopError(
            f"writing to the object store in the cluster needs a PostgreSQL advisory lock ({name}), and "
            "DRIFTLOOP_FEAST_REGISTRY_URI names no PostgreSQL database: give this workload the registry's reader URL "
            "(the key feast-registry-reader-uri of the chart's database Secret)"
        )
    if uses_postgres_locks(settings):
        return postgres_lock(settings.feast_registry, name)
    if folder.remote:
        return file_lock(settings.state_dir / "locks" / f"{name}.lock")
    return folder_lock(folder, name)
