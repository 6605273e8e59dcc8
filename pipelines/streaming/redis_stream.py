"""The stream as Redis Streams with consumer groups: the cluster's, shared by every model server and the workers.

A stream is a Redis stream key; a record's position is the id Redis gave it (`<ms>-<seq>`, so its append time
comes with it). A group is a consumer group used as a cursor: one worker owns each stream, under one consumer
name per process. Redis redelivers nothing on its own (`>` reads only what no one was handed), so the first
read of a (group, stream) in a process moves the group back to just before its oldest pending entry: what a
dead process read and never acknowledged is read again (at-least-once). Every call has a bounded socket
timeout and no automatic retry: a dead Redis raises `redis.ConnectionError` or `redis.TimeoutError` at once,
and a retried append could land twice.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pipelines.streaming.backend import Record

logger = logging.getLogger(__name__)

FIELD = b"p"  # each entry holds one field: the record's payload
CHUNK = 10_000  # entries per XRANGE / XPENDING call when walking a whole stream
MAX_BLOCK_S = 5.0
CONNECT_TIMEOUT_S = 2.0
TIMEOUT_MARGIN_S = 2.0  # a blocked XREADGROUP answers at its BLOCK; the socket waits this much longer
MAX_SEQ = 2**64 - 1

# redis-py types every reply `Awaitable | Any` (its sync and async clients share the signatures); replies are
# cast to what the sync client returns.
Entry = tuple[bytes, dict[bytes, bytes]]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _appended_us(position: str) -> int:
    return int(position.split("-", 1)[0]) * 1000


def _before(position: str) -> str:
    """The largest id below `position`: a group set there reads `position` next."""
    ms, seq = (int(part) for part in position.split("-", 1))
    if seq:
        return f"{ms}-{seq - 1}"
    return f"{ms - 1}-{MAX_SEQ}" if ms else "0-0"


class RedisStream:
    """The `StreamBackend` over Redis Streams (see the module).

    `url` is `redis://host:port[/db]`; `password` is the server's AUTH password, if any (one in the URL wins).
    `max_block_s` bounds `read`'s wait (a longer `block_s` is cut to it) so the socket timeout can stay just
    above it. Methods raise `redis.ConnectionError` or `redis.TimeoutError` when Redis does not answer in time.
    """

    def __init__(self, url: str, password: str | None = None, *, max_block_s: float = MAX_BLOCK_S) -> None:
        self.url = url
        self.max_block_s = max_block_s
        options: dict[str, Any] = {"password": password} if password is not None else {}
        self._client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=max_block_s + TIMEOUT_MARGIN_S,
            retry=Retry(NoBackoff(), 0),
            **options,
        )
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self._joined: set[tuple[str, str]] = set()  # (group, stream) this process has created and recovered
        self._handed: dict[str, deque[Record]] = {}  # group -> delivered by Redis, not yet handed out

    def append(self, records: Sequence[tuple[str, bytes]]) -> int:
        if not records:
            return 0
        # One round trip; Redis runs a pipeline's commands in the order sent, so each stream keeps its order.
        pipe = self._client.pipeline(transaction=False)
        for stream, payload in records:
            pipe.xadd(stream, {FIELD: payload})
        pipe.execute()
        return len(records)

    def _range(self, stream: str, after: str | None) -> Iterator[list[Entry]]:
        """The stream's entries after `after` (None: all), in chunks of at most CHUNK, oldest first."""
        start = "-" if after is None else f"({after}"
        while True:
            chunk = cast(list[Entry], self._client.xrange(stream, min=start, max="+", count=CHUNK))
            if chunk:
                yield chunk
            if len(chunk) < CHUNK:
                return
            start = f"({_text(chunk[-1][0])}"

    def retained(self, stream: str) -> list[Record]:
        return [
            Record(stream, position := _text(entry_id), fields[FIELD], _appended_us(position))
            for chunk in self._range(stream, None)
            for entry_id, fields in chunk
        ]

    def _create_group(self, group: str, stream: str) -> None:
        try:
            self._client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise

    def _forget_pending(self, group: str, stream: str, up_to: str = "+") -> None:
        """Acknowledge every pending entry of the group in `stream` up to and including `up_to`."""
        while True:
            pending = cast(
                list[dict[str, Any]], self._client.xpending_range(stream, group, min="-", max=up_to, count=CHUNK)
            )
            if not pending:
                return
            self._client.xack(stream, group, *(entry["message_id"] for entry in pending))
            if len(pending) < CHUNK:
                return

    def _join(self, group: str, stream: str) -> None:
        """Create the group if needed and, once per process, rewind it to its oldest pending entry."""
        self._create_group(group, stream)
        summary = cast(dict[str, Any], self._client.xpending(stream, group))
        if summary["pending"]:
            # Move first, then forget: a crash in between leaves them pending, and the next join rewinds again.
            oldest = _text(summary["min"])
            self._client.xgroup_setid(stream, group, _before(oldest))
            self._forget_pending(group, stream)
            logger.info("group %s re-reads %s from %s (read, never acknowledged)", group, stream, oldest)
        self._joined.add((group, stream))

    def resume_after(self, group: str, stream: str, position: str | None) -> None:
        self._create_group(group, stream)
        self._client.xgroup_setid(stream, group, position if position is not None else "0")
        self._forget_pending(group, stream)
        self._joined.add((group, stream))
        handed = self._handed.get(group)
        if handed:
            self._handed[group] = deque(record for record in handed if record.stream != stream)

    def read(self, group: str, streams: Sequence[str], count: int, block_s: float) -> list[Record]:
        for stream in streams:
            if (group, stream) not in self._joined:
                self._join(group, stream)
        waiting = self._handed.setdefault(group, deque())
        if not any(record.stream in streams for record in waiting):
            block_ms = int(min(block_s, self.max_block_s) * 1000)
            try:
                answer = cast(
                    list[tuple[bytes, list[Entry]]] | None,
                    self._client.xreadgroup(
                        group, self.consumer, dict.fromkeys(streams, ">"), count=count, block=block_ms or None
                    ),
                )
            except redis.ResponseError as error:
                if not str(error).startswith("NOGROUP"):
                    raise
                # The key or the group went away under us (FLUSHDB, a deleted key): join again, read next time.
                self._joined.difference_update((group, stream) for stream in streams)
                return []
            for key, entries in answer or []:
                name = _text(key)
                waiting.extend(
                    Record(name, position := _text(entry_id), fields[FIELD], _appended_us(position))
                    for entry_id, fields in entries
                )
        # COUNT is per stream in XREADGROUP: what is over `count` waits here (pending in Redis) for the next read.
        found: list[Record] = []
        kept: deque[Record] = deque()
        while waiting:
            record = waiting.popleft()
            (found if len(found) < count and record.stream in streams else kept).append(record)
        self._handed[group] = kept
        return found

    def acknowledge(self, group: str, stream: str, position: str) -> None:
        self._forget_pending(group, stream, up_to=position)

    def acknowledge_many(self, group: str, positions: Mapping[str, str]) -> None:
        for stream, position in positions.items():  # each XACK is already a single write
            self._forget_pending(group, stream, up_to=position)

    def _after_delivered(self, stream: str, last_delivered: str) -> int:
        return sum(len(chunk) for chunk in self._range(stream, last_delivered))

    def backlog(self, group: str, streams: Sequence[str]) -> dict[str, int]:
        pipe = self._client.pipeline(transaction=False)
        for stream in streams:
            pipe.xinfo_groups(stream)
            pipe.xlen(stream)
        answers = pipe.execute(raise_on_error=False)
        counts: dict[str, int] = {}
        for index, stream in enumerate(streams):
            groups, length = answers[2 * index], answers[2 * index + 1]
            if isinstance(length, Exception):
                raise length
            if isinstance(groups, redis.ResponseError):  # no such key: nothing appended, no group made
                counts[stream] = 0
                continue
            if isinstance(groups, Exception):
                raise groups
            info = next((each for each in groups if _text(each["name"]) == group), None)
            if info is None:
                counts[stream] = int(length)
                continue
            # `lag` (Redis >= 7) is None after a SETID into the middle of the stream, until the group has read to
            # its end: then count what is after the last delivered entry.
            lag = info.get("lag")
            if lag is None:
                lag = self._after_delivered(stream, _text(info["last-delivered-id"]))
            counts[stream] = int(lag) + int(info["pending"])
        return counts

    def oldest_unacknowledged_us(self, group: str, stream: str) -> int | None:
        try:
            summary = cast(dict[str, Any], self._client.xpending(stream, group))
        except redis.ResponseError:  # no stream or no group yet: the oldest retained record waits
            first = cast(list[Entry], self._client.xrange(stream, "-", "+", count=1))
            return _appended_us(_text(first[0][0])) if first else None
        if int(summary["pending"]):
            return _appended_us(_text(summary["min"]))
        groups = cast(list[dict[str, Any]], self._client.xinfo_groups(stream))
        info = next(each for each in groups if _text(each["name"]) == group)
        after = cast(list[Entry], self._client.xrange(stream, f"({_text(info['last-delivered-id'])}", "+", count=1))
        return _appended_us(_text(after[0][0])) if after else None

    def trim(self, streams: Sequence[str], older_than_us: int) -> int:
        # Exact, not `~`: approximate trimming drops only whole internal nodes (100 entries each), so a stream
        # would keep older records than the retention says and `retained` would differ from SQLite's. Trimming
        # runs now and then, so the exact cut (at most one node rewritten per stream) costs little.
        if not streams:
            return 0
        threshold = f"{-(-older_than_us // 1000)}-0"  # ids below it were appended before older_than_us
        pipe = self._client.pipeline(transaction=False)
        for stream in streams:
            pipe.xtrim(stream, minid=threshold, approximate=False)
        return sum(int(dropped) for dropped in pipe.execute())

    def close(self) -> None:
        self._client.close()
