"""The one place the stream's URL becomes a backend: the model servers, the landings and the worker open it here."""

from __future__ import annotations

from pathlib import Path

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.streaming.backend import StreamBackend
from pipelines.streaming.redis_stream import RedisStream
from pipelines.streaming.sqlite_stream import SqliteStream

SQLITE_PREFIX = "sqlite:///"


def open_stream(settings: Settings) -> StreamBackend:
    """The stream `settings.stream_url` names: unset, the local SQLite log in the state folder; `sqlite:///path`
    (`sqlite:////abs/path` for an absolute one, as SQLAlchemy writes it), that file; `redis://host:port[/db]`,
    Redis Streams with `settings.stream_password`."""
    url = settings.stream_url or Layout.from_settings(settings).local_stream_url
    if url.startswith(SQLITE_PREFIX):
        return SqliteStream(Path(url.removeprefix(SQLITE_PREFIX)))
    password = settings.stream_password.get_secret_value() if settings.stream_password is not None else None
    return RedisStream(url, password)
