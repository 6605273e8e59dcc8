"""The Feast configuration for the current settings: one place where a mode becomes a store.

Local mode: SQLite online store, parquet offline store, file registry, all under the Feast repo path.
Cluster mode: Redis online store and a SQL registry, chosen by the same settings fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from driftloop.settings import Settings

if TYPE_CHECKING:
    from feast import FeatureStore


def _registry_config(settings: Settings) -> dict[str, Any]:
    uri = settings.feast_registry
    if "://" in uri:
        return {"registry_type": "sql", "path": uri, "cache_ttl_seconds": 60}
    return {"registry_type": "file", "path": uri, "cache_ttl_seconds": 60}


def _online_store_config(settings: Settings) -> dict[str, Any]:
    if settings.feast_online_store == "redis":
        return {"type": "redis", "connection_string": settings.feast_redis_url}
    return {"type": "sqlite", "path": str(settings.feast_path / "online_store.db")}


def repo_config_dict(settings: Settings) -> dict[str, Any]:
    """The contents of `feature_store.yaml` for these settings."""
    return {
        "project": settings.feast_project,
        "provider": "local",
        "registry": _registry_config(settings),
        "online_store": _online_store_config(settings),
        "offline_store": {"type": "file"},
        "entity_key_serialization_version": 3,
    }


def write_feature_store_yaml(settings: Settings) -> Path:
    """Write `feature_store.yaml` into the Feast repo path, so the `feast` CLI sees the same store."""
    settings.feast_path.mkdir(parents=True, exist_ok=True)
    target = settings.feast_path / "feature_store.yaml"
    target.write_text(yaml.safe_dump(repo_config_dict(settings), sort_keys=False))
    return target


def open_feature_store(settings: Settings) -> FeatureStore:
    """A FeatureStore whose relative FileSource paths resolve under the Feast repo path."""
    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    config = RepoConfig(repo_path=settings.feast_path, **repo_config_dict(settings))
    return FeatureStore(config=config)
