"""The stream's two backends hold to one contract: the SQLite log (local) and Redis Streams (cluster).

Every test runs against both, opened as the platform opens them (`open_stream` from the settings): SQLite in
the test's own state folder, Redis on one real password-protected `redis-server` per module, each test with
streams of its own. A "restart" is a new backend instance: what the old one read and never acknowledged must
come back (at-least-once).
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from pydantic import SecretStr

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.streaming import redis_stream
from pipelines.streaming.backend import Record, StreamBackend
from pipelines.streaming.open_stream import open_stream
from pipelines.streaming.redis_stream import RedisStream
from pipelines.streaming.sqlite_stream import SqliteStream
from tests.conftest import free_port
from tests.integration.conftest import REDIS_PASSWORD, running_redis

pytestmark = pytest.mark.integration

Opener = Callable[[], StreamBackend]


@pytest.fixture(scope="module")
def redis_address() -> Iterator[str]:
    with running_redis() as address:
        yield address


@pytest.fixture(scope="module")
def base_settings() -> Settings:
    return Settings(stream_url=None, stream_password=None)


@pytest.fixture(params=["sqlite", "redis"])
def settings(request: pytest.FixtureRequest, base_settings: Settings, tmp_path: Path) -> Settings:
    update: dict[str, object] = {"state_dir": tmp_path / "state"}
    if request.param == "redis":
        address = request.getfixturevalue("redis_address")
        update |= {"stream_url": f"redis://{address}/0", "stream_password": SecretStr(REDIS_PASSWORD)}
    return base_settings.model_copy(update=update)


@pytest.fixture
def open_backend(settings: Settings) -> Iterator[Opener]:
    """Opens the stream as a new process would; every instance opened is closed after the test."""
    opened: list[StreamBackend] = []

    def opener() -> StreamBackend:
        opened.append(open_stream(settings))
        return opened[-1]

    yield opener
    for backend in opened:
        backend.close()


@pytest.fixture
def names() -> Callable[[str], str]:
    """Stream and group names of this test's own (one Redis serves the module)."""
    prefix = uuid.uuid4().hex[:8]
    return lambda name: f"{prefix}-{name}"


def payloads(records: list[Record]) -> list[bytes]:
    return [record.payload for record in records]


def test_open_stream_chooses_the_backend_the_url_names(settings: Settings, open_backend: Opener) -> None:
    backend = open_backend()
    if settings.stream_url is None:
        assert isinstance(backend, SqliteStream)
        assert backend.path == Layout.from_settings(settings).stream / "stream.db"
        assert backend.path.exists()
        elsewhere = settings.state_dir / "elsewhere.db"
        other = open_stream(settings.model_copy(update={"stream_url": f"sqlite:///{elsewhere}"}))
        try:
            assert isinstance(other, SqliteStream) and other.path == elsewhere and elsewhere.exists()
        finally:
            other.close()
    else:
        assert isinstance(backend, RedisStream)
        backend.append([("probe", b"x")])  # authenticated with the settings' password
        without = RedisStream(settings.stream_url)
        try:
            with pytest.raises(redis.AuthenticationError):
                without.append([("probe", b"x")])
        finally:
            without.close()


def test_each_stream_keeps_its_order_and_append_time(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    one, two, group = names("one"), names("two"), names("g")
    before_us = time.time_ns() // 1000
    appended = [(one if i % 3 else two, f"{i}".encode()) for i in range(30)]
    assert backend.append(appended) == 30
    assert backend.append([]) == 0
    after_us = time.time_ns() // 1000
    for stream in (one, two):
        expected = [payload for name, payload in appended if name == stream]
        kept = backend.retained(stream)
        assert payloads(kept) == expected
        assert all(record.stream == stream for record in kept)
        assert len({record.position for record in kept}) == len(kept)
        # Redis ids carry milliseconds: allow one either side.
        assert all(before_us - 1000 <= record.appended_us <= after_us + 1000 for record in kept)
    # Read over both streams a few at a time: nothing lost, nothing twice, each stream in order.
    seen: dict[str, list[Record]] = {one: [], two: []}
    while batch := backend.read(group, [one, two], count=4, block_s=0):
        assert len(batch) <= 4
        for record in batch:
            seen[record.stream].append(record)
    assert seen == {stream: backend.retained(stream) for stream in (one, two)}


def test_read_hands_out_what_is_after_the_group_and_moves_it(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    stream, group = names("s"), names("g")
    backend.append([(stream, f"{i}".encode()) for i in range(5)])
    assert payloads(backend.read(group, [stream], count=2, block_s=0)) == [b"0", b"1"]
    assert payloads(backend.read(group, [stream], count=10, block_s=0)) == [b"2", b"3", b"4"]
    assert backend.read(group, [stream], count=10, block_s=0) == []
    backend.append([(stream, b"5")])
    assert payloads(backend.read(group, [stream], count=10, block_s=0)) == [b"5"]


def test_two_groups_read_independently(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    stream, first, second = names("s"), names("g1"), names("g2")
    backend.append([(stream, f"{i}".encode()) for i in range(3)])
    assert payloads(backend.read(first, [stream], count=10, block_s=0)) == [b"0", b"1", b"2"]
    assert payloads(backend.read(second, [stream], count=2, block_s=0)) == [b"0", b"1"]
    backend.acknowledge(first, stream, backend.retained(stream)[-1].position)
    assert backend.backlog(first, [stream]) == {stream: 0}
    assert backend.backlog(second, [stream]) == {stream: 3}
    assert payloads(backend.read(second, [stream], count=10, block_s=0)) == [b"2"]


def test_a_restart_reads_again_what_was_read_and_not_acknowledged(
    open_backend: Opener, names: Callable[[str], str]
) -> None:
    one, two, group = names("one"), names("two"), names("g")
    crashed = open_backend()
    crashed.append([(stream, f"{stream[-3:]}{i}".encode()) for i in range(6) for stream in (one, two)])
    read = crashed.read(group, [one], count=4, block_s=0)
    crashed.acknowledge(group, one, read[1].position)
    crashed.read(group, [two], count=3, block_s=0)  # none acknowledged
    crashed.close()

    restarted = open_backend()
    assert payloads(restarted.read(group, [one], count=10, block_s=0)) == [b"one2", b"one3", b"one4", b"one5"]
    assert payloads(restarted.read(group, [two], count=10, block_s=0)) == [f"two{i}".encode() for i in range(6)]
    assert restarted.backlog(group, [one, two]) == {one: 4, two: 6}
    for stream in (one, two):
        restarted.acknowledge(group, stream, restarted.retained(stream)[-1].position)
    assert restarted.backlog(group, [one, two]) == {one: 0, two: 0}
    restarted.append([(one, b"one6")])

    again = open_backend()
    assert payloads(again.read(group, [one, two], count=10, block_s=0)) == [b"one6"]


def test_resume_after_moves_the_group_and_forgets_the_unacknowledged(
    open_backend: Opener, names: Callable[[str], str]
) -> None:
    backend = open_backend()
    stream, group, fresh = names("s"), names("g"), names("fresh")
    backend.append([(stream, f"{i}".encode()) for i in range(4)])
    kept = backend.retained(stream)
    assert len(backend.read(group, [stream], count=10, block_s=0)) == 4

    backend.resume_after(group, stream, None)
    assert backend.backlog(group, [stream]) == {stream: 4}
    assert payloads(backend.read(group, [stream], count=10, block_s=0)) == [b"0", b"1", b"2", b"3"]

    backend.resume_after(group, stream, kept[1].position)
    assert backend.backlog(group, [stream]) == {stream: 2}
    restarted = open_backend()  # nothing read after the resume is pending: a restart starts there too
    assert payloads(restarted.read(group, [stream], count=10, block_s=0)) == [b"2", b"3"]

    backend.resume_after(fresh, stream, kept[2].position)  # a group never seen before
    assert payloads(backend.read(fresh, [stream], count=10, block_s=0)) == [b"3"]


def test_retained_and_acknowledge_walk_long_streams_in_chunks(
    open_backend: Opener, names: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_stream, "CHUNK", 4)  # Redis walks ranges and pending lists CHUNK at a time
    backend = open_backend()
    stream, group = names("s"), names("g")
    backend.append([(stream, f"{i}".encode()) for i in range(23)])
    kept = backend.retained(stream)
    assert payloads(kept) == [f"{i}".encode() for i in range(23)]
    assert len(backend.read(group, [stream], count=23, block_s=0)) == 23
    backend.acknowledge(group, stream, kept[17].position)
    assert backend.backlog(group, [stream]) == {stream: 5}
    backend.resume_after(group, stream, kept[9].position)
    assert backend.backlog(group, [stream]) == {stream: 13}


def test_trim_drops_what_is_older_than_the_cut(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    one, two = names("one"), names("two")
    backend.append([(one, b"old1"), (two, b"old2"), (one, b"old3")])
    time.sleep(0.005)  # Redis ids are in milliseconds
    backend.append([(one, b"new1"), (two, b"new2")])
    cut = backend.retained(one)[2].appended_us
    assert backend.trim([one, two], cut) == 3
    assert payloads(backend.retained(one)) == [b"new1"]
    assert payloads(backend.retained(two)) == [b"new2"]
    assert backend.trim([one, two], cut) == 0


def test_backlog_counts_what_the_group_has_not_acknowledged(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    stream, group, empty = names("s"), names("g"), names("never-appended")
    backend.append([(stream, f"{i}".encode()) for i in range(3)])
    assert backend.backlog(group, [stream, empty]) == {stream: 3, empty: 0}
    read = backend.read(group, [stream], count=2, block_s=0)
    assert backend.backlog(group, [stream]) == {stream: 3}  # read is not done
    backend.acknowledge(group, stream, read[1].position)
    assert backend.backlog(group, [stream]) == {stream: 1}
    backend.acknowledge(group, stream, read[0].position)  # an older position moves nothing back
    assert backend.backlog(group, [stream]) == {stream: 1}
    backend.append([(stream, b"3")])
    assert backend.backlog(group, [stream]) == {stream: 2}


def test_acknowledge_many_moves_each_stream_named_as_acknowledge_would(
    open_backend: Opener, names: Callable[[str], str]
) -> None:
    backend = open_backend()
    one, two, untouched, group = names("one"), names("two"), names("untouched"), names("g")
    backend.append([(stream, f"{i}".encode()) for i in range(4) for stream in (one, two, untouched)])
    read = backend.read(group, [one, two, untouched], count=12, block_s=0)
    last = {stream: [r for r in read if r.stream == stream] for stream in (one, two)}
    backend.acknowledge_many(group, {one: last[one][2].position, two: last[two][0].position})
    assert backend.backlog(group, [one, two, untouched]) == {one: 1, two: 3, untouched: 4}
    backend.acknowledge_many(group, {one: last[one][0].position})  # an older position moves nothing back
    backend.acknowledge_many(group, {})
    assert backend.backlog(group, [one, two, untouched]) == {one: 1, two: 3, untouched: 4}
    restarted = open_backend()  # what was acknowledged stays so; the rest is read again
    again = restarted.read(group, [one, two], count=10, block_s=0)
    assert payloads([r for r in again if r.stream == one]) == [b"3"]
    assert payloads([r for r in again if r.stream == two]) == [b"1", b"2", b"3"]


def test_the_oldest_unacknowledged_record_dates_the_lag(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    stream, group, empty = names("s"), names("g"), names("never-appended")
    assert backend.oldest_unacknowledged_us(group, empty) is None
    backend.append([(stream, b"0")])
    time.sleep(0.01)
    backend.append([(stream, b"1")])
    records = backend.retained(stream)
    assert backend.oldest_unacknowledged_us(group, stream) == records[0].appended_us  # no group yet
    read = backend.read(group, [stream], count=1, block_s=0)
    assert backend.oldest_unacknowledged_us(group, stream) == records[0].appended_us  # read, not done
    backend.acknowledge(group, stream, read[0].position)
    assert backend.oldest_unacknowledged_us(group, stream) == records[1].appended_us  # never delivered yet
    backend.acknowledge(group, stream, backend.read(group, [stream], count=1, block_s=0)[0].position)
    assert backend.oldest_unacknowledged_us(group, stream) is None


def test_read_waits_block_s_when_there_is_nothing(open_backend: Opener, names: Callable[[str], str]) -> None:
    backend = open_backend()
    stream, group = names("s"), names("g")
    backend.read(group, [stream], count=1, block_s=0)  # the group exists: time only the wait
    started = time.monotonic()
    assert backend.read(group, [stream], count=10, block_s=0.4) == []
    assert 0.35 <= time.monotonic() - started < 1.5


def test_read_returns_as_soon_as_a_record_arrives(open_backend: Opener, names: Callable[[str], str]) -> None:
    reader, writer = open_backend(), open_backend()
    stream, other, group = names("s"), names("other"), names("g")
    reader.read(group, [other, stream], count=1, block_s=0)
    timer = threading.Timer(0.3, lambda: writer.append([(stream, b"late")]))
    started = time.monotonic()
    timer.start()
    try:
        found = reader.read(group, [other, stream], count=10, block_s=4.0)
    finally:
        timer.join()
    waited = time.monotonic() - started
    assert payloads(found) == [b"late"]
    assert 0.25 <= waited < 1.5


def test_a_redis_that_is_down_raises_at_once() -> None:
    stream = RedisStream(f"redis://127.0.0.1:{free_port()}", REDIS_PASSWORD)  # nothing listens there
    started = time.monotonic()
    try:
        with pytest.raises(redis.ConnectionError):
            stream.append([("s", b"x")])
        with pytest.raises(redis.ConnectionError):
            stream.read("g", ["s"], count=1, block_s=1.0)
    finally:
        stream.close()
    assert time.monotonic() - started < 1.0  # refused, and no retries with backoff


def test_a_redis_that_never_answers_times_out() -> None:
    """A server that takes the connection and says nothing (hung, or a black-holed proxy) costs the socket
    timeout (the longest block plus a margin), not forever."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        stream = RedisStream(f"redis://127.0.0.1:{port}", REDIS_PASSWORD, max_block_s=0.2)
        started = time.monotonic()
        try:
            with pytest.raises(redis.TimeoutError):
                stream.backlog("g", ["s"])
        finally:
            stream.close()
        waited = time.monotonic() - started
    assert redis_stream.TIMEOUT_MARGIN_S <= waited < redis_stream.TIMEOUT_MARGIN_S + 2.0
