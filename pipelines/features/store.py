"""The Feast store for the current settings: one place where a mode becomes a store, and the one way to
load it with the latest feature values.

Local mode: SQLite online store, parquet offline store, file registry, all under the Feast repo path.
Cluster mode: Redis online store and a SQL registry, chosen by the same settings fields.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from pipelines.core.dependency_probes import check_online_store
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from feast import FeatureStore


def _registry_config(settings: Settings) -> dict[str, Any]:
    """The registry. `serve_features_while_materializing`: Feast marks a view MATERIALIZING in the registry
    while it materialises, and a model server that reads the registry then refuses every lookup (a 500 per
    request for the whole refresh, every hour); with it, the servers keep serving the last values."""
    uri = Layout.from_settings(settings).feast_registry
    kind = "sql" if "://" in uri else "file"
    return {"registry_type": kind, "path": uri, "cache_ttl_seconds": 60, "serve_features_while_materializing": True}


class _WrongForFileRegistries(logging.Filter):
    """Feast warns that the flag has no effect on a file registry; its file registry honours it (and the
    serving test that caught the 500s runs on one). Only that warning is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "serve_features_while_materializing` is enabled but" not in record.getMessage()


_FEAST_FLAG_FILTER = _WrongForFileRegistries()


def sqlite_online_store_path(settings: Settings) -> Path:
    """The local online store's SQLite file (in the Feast repo folder)."""
    return Layout.from_settings(settings).feast_repo / "online_store.db"


def _online_store_config(
    settings: Settings, read_timeout_s: float | None = None, last_write_wins: bool = False
) -> dict[str, Any]:
    if settings.feast_online_store == "redis":
        connection = settings.feast_redis_url
        if settings.feast_redis_password is not None:  # Feast's connection string takes options after the address
            connection += f",password={settings.feast_redis_password.get_secret_value()}"
        if read_timeout_s is not None:
            # redis-py's own options (Feast passes them through, JSON-decoded): a bounded wait and no retries
            # with backoff (its default retries a timeout three times, seconds apart).
            connection += f",socket_timeout={read_timeout_s},socket_connect_timeout={read_timeout_s},retry=null"
        # The stream worker re-pushes an entity's row at the same stamp when a late event changed it; Feast's
        # Redis store skips a write whose timestamp is not newer than the stored one unless told not to check.
        return {"type": "redis", "connection_string": connection, **({"skip_dedup": True} if last_write_wins else {})}
    return {"type": "sqlite", "path": str(sqlite_online_store_path(settings))}


def repo_config_dict(
    settings: Settings, read_timeout_s: float | None = None, last_write_wins: bool = False
) -> dict[str, Any]:
    """The contents of `feature_store.yaml` for these settings (`read_timeout_s`: a serving client's bound;
    `last_write_wins`: the stream worker's writes replace a row whatever its timestamp)."""
    feast_config_logger = logging.getLogger("feast.repo_config")
    if _FEAST_FLAG_FILTER not in feast_config_logger.filters:
        feast_config_logger.addFilter(_FEAST_FLAG_FILTER)
    return {
        "project": settings.feast_project,
        "provider": "local",
        "registry": _registry_config(settings),
        "online_store": _online_store_config(settings, read_timeout_s, last_write_wins),
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }


def write_feature_store_yaml(settings: Settings) -> Path:
    """Write `feature_store.yaml` into the Feast repo path, so the `feast` CLI sees the same store."""
    repo = Layout.from_settings(settings).feast_repo
    repo.mkdir(parents=True, exist_ok=True)
    target = repo / "feature_store.yaml"
    target.write_text(yaml.safe_dump(repo_config_dict(settings), sort_keys=False))
    return target


def use_write_ahead_log(settings: Settings) -> None:
    """Put the local (SQLite) online store in write-ahead-log mode, once, at apply (the mode is the file's).

    The model server reads a row per request while the stream worker writes every answered transaction's
    streamed rows and the refresh materialises: in SQLite's default rollback mode a reader waits out each
    write's lock (the busy handler sleeps in steps of milliseconds), and the waits showed as the in-process
    chain's p99. In WAL mode readers see the last commit and never wait for a writer."""
    if settings.feast_online_store != "sqlite":
        return
    import sqlite3

    path = sqlite_online_store_path(settings)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        mode = connection.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    logger.debug("online store %s: journal mode %s", path, mode)


def open_feature_store(settings: Settings, serving: bool = False, last_write_wins: bool = False) -> FeatureStore:
    """A FeatureStore whose relative FileSource paths resolve under the Feast repo path. A `serving` store reads
    the online store with `DRIFTLOOP_ONLINE_STORE_TIMEOUT_S` per call and no retries: a model server must
    answer (or refuse) in bounded time; materialisation's big writes keep the client's defaults. The stream
    worker's store is `last_write_wins` (it alone writes its views' rows, always its latest)."""
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    timeout = settings.online_store_timeout_s if serving else None
    options = repo_config_dict(settings, timeout, last_write_wins)
    config = RepoConfig(repo_path=Layout.from_settings(settings).feast_repo, **options)
    return FeatureStore(config=config)


def materialize_online(settings: Settings, end: datetime) -> None:
    """Materialise every feature view but the streamed ones over its ttl window ending at `end` (idempotent).

    A row older than the ttl is expired for serving just as it is for training, so it is not loaded. A streamed
    view's online rows are the stream worker's, fresher than any refresh: materialising its offline table would
    put older rows over them (SQLite's online store keeps the last write, whatever its timestamp).
    """
    check_online_store(settings)  # seconds, not a Redis traceback after the whole store was read
    store = open_feature_store(settings)
    views = [view for view in store.list_feature_views() if view.stream_source is None]
    ttl = max(view.ttl for view in views if view.ttl)  # every view of ours has one
    store.materialize(start_date=end - ttl, end_date=end, feature_views=[view.name for view in views])
    logger.info("materialised feature views over (%s, %s]", (end - ttl).isoformat(), end.isoformat())
