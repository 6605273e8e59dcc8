"""The stream as a SQLite log on local disk: local mode's default, durable, with no server to run.

One table of records (a global autoincrementing position keeps every stream in order), one of each group's
acknowledged position per stream. WAL with `synchronous=NORMAL`: an append survives its process being killed
(what the worker's and the servers' kill tests do), and a machine crash may lose the last appends, as the
cluster's Redis with `appendfsync everysec` may lose its last second: the prediction log and the event store
keep every answer, so a lost record costs a window's exactness until the entity's next event, not the record.
`FULL` put a second fsync beside every group commit of the prediction log on the same disk, and a SIGKILLed
server lost up to twice the rows it answers in a commit interval. The model servers, the landings and the
worker write and read the file at once. A reader polls (every
`POLL_S`) while it waits for records: the worker's freshness budget is a second, a poll is a few microseconds.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pipelines.streaming.backend import Record

POLL_S = 0.005
BUSY_TIMEOUT_S = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    payload BLOB NOT NULL,
    appended_us INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_stream ON records (stream, position);
CREATE INDEX IF NOT EXISTS records_by_age ON records (appended_us);
CREATE TABLE IF NOT EXISTS acknowledged (
    grp TEXT NOT NULL,
    stream TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (grp, stream)
);
"""


def _now_us() -> int:
    return time.time_ns() // 1000


class SqliteStream:
    """The `StreamBackend` over one SQLite file (see the module)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        with self._lock:
            self._connection.executescript(_SCHEMA)
        self._read: dict[tuple[str, str], int] = {}  # (group, stream) -> last position handed out

    def append(self, records: Sequence[tuple[str, bytes]]) -> int:
        if not records:
            return 0
        now = _now_us()
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(
                    "INSERT INTO records (stream, payload, appended_us) VALUES (?, ?, ?)",
                    [(stream, payload, now) for stream, payload in records],
                )
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
        return len(records)

    def retained(self, stream: str) -> list[Record]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT position, payload, appended_us FROM records WHERE stream = ? ORDER BY position", (stream,)
            ).fetchall()
        return [Record(stream, str(position), payload, appended) for position, payload, appended in rows]

    def _acknowledged(self, group: str, stream: str) -> int:
        row = self._connection.execute(
            "SELECT position FROM acknowledged WHERE grp = ? AND stream = ?", (group, stream)
        ).fetchone()
        return int(row[0]) if row else 0

    def resume_after(self, group: str, stream: str, position: str | None) -> None:
        value = int(position) if position is not None else 0
        with self._lock:
            self._connection.execute(
                "INSERT INTO acknowledged (grp, stream, position) VALUES (?, ?, ?) "
                "ON CONFLICT (grp, stream) DO UPDATE SET position = excluded.position",
                (group, stream, value),
            )
        self._read[(group, stream)] = value

    def read(self, group: str, streams: Sequence[str], count: int, block_s: float) -> list[Record]:
        deadline = time.monotonic() + block_s
        while True:
            found: list[Record] = []
            with self._lock:
                for stream in streams:
                    if len(found) >= count:
                        break
                    after = self._read.get((group, stream))
                    if after is None:
                        after = self._read[(group, stream)] = self._acknowledged(group, stream)
                    rows = self._connection.execute(
                        "SELECT position, payload, appended_us FROM records WHERE stream = ? AND position > ? "
                        "ORDER BY position LIMIT ?",
                        (stream, after, count - len(found)),
                    ).fetchall()
                    if rows:
                        self._read[(group, stream)] = int(rows[-1][0])
                        found += [Record(stream, str(at), payload, appended) for at, payload, appended in rows]
            if found or time.monotonic() >= deadline:
                return found
            time.sleep(POLL_S)

    def acknowledge(self, group: str, stream: str, position: str) -> None:
        self.acknowledge_many(group, {stream: position})

    def acknowledge_many(self, group: str, positions: Mapping[str, str]) -> None:
        if not positions:
            return
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                self._connection.executemany(
                    "INSERT INTO acknowledged (grp, stream, position) VALUES (?, ?, ?) "
                    "ON CONFLICT (grp, stream) DO UPDATE SET position = max(position, excluded.position)",
                    [(group, stream, int(position)) for stream, position in positions.items()],
                )
                self._connection.execute("COMMIT")
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise

    def backlog(self, group: str, streams: Sequence[str]) -> dict[str, int]:
        with self._lock:
            return {
                stream: int(
                    self._connection.execute(
                        "SELECT COUNT(*) FROM records WHERE stream = ? AND position > ?",
                        (stream, self._acknowledged(group, stream)),
                    ).fetchone()[0]
                )
                for stream in streams
            }

    def oldest_unacknowledged_us(self, group: str, stream: str) -> int | None:
        with self._lock:
            row = self._connection.execute(
                "SELECT MIN(appended_us) FROM records WHERE stream = ? AND position > ?",
                (stream, self._acknowledged(group, stream)),
            ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def trim(self, streams: Sequence[str], older_than_us: int) -> int:
        with self._lock:
            cursor = self._connection.execute("DELETE FROM records WHERE appended_us < ?", (older_than_us,))
        return int(cursor.rowcount)

    def close(self) -> None:
        with self._lock:
            self._connection.close()
