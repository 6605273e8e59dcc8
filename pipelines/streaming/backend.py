"""One small interface over the stream's storage, so a Kafka deployment could take the place of ours.

A stream is an append-only, ordered sequence of records; the platform keeps one per (entity, partition), so an
entity's events stay in order. Readers form groups: each group has its own position in each stream, moved by
`acknowledge` (at-least-once: a record read and not acknowledged is read again after a restart). Records live for
the retention (`trim`), long enough for a restarted worker to rebuild its windows from `retained`.

Two implementations: Redis Streams with consumer groups (`redis_stream`, the cluster's), and a SQLite log on
local disk (`sqlite_stream`, local mode's default: durable, no server to run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Record:
    """One record as read back: the stream it is in, its position there (ordered within the stream), its bytes
    and when the stream took it (microseconds since the epoch)."""

    stream: str
    position: str
    payload: bytes
    appended_us: int


class StreamBackend(Protocol):
    """Append, read in order by group, acknowledge, rebuild from what is retained, trim."""

    def append(self, records: Sequence[tuple[str, bytes]]) -> int:
        """Append (stream, payload) pairs, each stream's in the order given, durably; returns how many."""
        ...

    def retained(self, stream: str) -> list[Record]:
        """Every record the stream still holds, oldest first (a restarted worker's rebuild)."""
        ...

    def resume_after(self, group: str, stream: str, position: str | None) -> None:
        """Put the group's position in `stream` just after `position` (None: before everything retained), and
        forget what was read and not acknowledged before it."""
        ...

    def read(self, group: str, streams: Sequence[str], count: int, block_s: float) -> list[Record]:
        """Up to `count` records after the group's read position, over `streams`, each stream's in order; waits
        up to `block_s` when there are none. Reading moves the read position (not the acknowledged one)."""
        ...

    def acknowledge(self, group: str, stream: str, position: str) -> None:
        """The group is done with `stream` up to and including `position`."""
        ...

    def acknowledge_many(self, group: str, positions: Mapping[str, str]) -> None:
        """`acknowledge` for each (stream, position), in one write where the backend can (a worker's batch spans
        many streams: one durable write per stream would stall every appender behind the worker)."""
        ...

    def backlog(self, group: str, streams: Sequence[str]) -> dict[str, int]:
        """Records of each stream the group has not acknowledged yet (its lag, in records)."""
        ...

    def oldest_unacknowledged_us(self, group: str, stream: str) -> int | None:
        """When the oldest record the group has not acknowledged was appended (None: it is caught up): the
        worker's lag is now minus this."""
        ...

    def trim(self, streams: Sequence[str], older_than_us: int) -> int:
        """Drop records appended before `older_than_us`; returns how many were dropped (when the backend knows)."""
        ...

    def close(self) -> None: ...
