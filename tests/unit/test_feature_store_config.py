from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.core.settings import Settings
from pipelines.features.store import repo_config_dict


def test_local_mode_uses_sqlite_and_a_file_registry(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    config = repo_config_dict(Settings())
    assert config["online_store"] == {"type": "sqlite", "path": str(tmp_path / "feast" / "online_store.db")}
    assert config["registry"]["registry_type"] == "file"
    assert config["offline_store"] == {"type": "file"}


def test_cluster_settings_select_redis_and_a_sql_registry(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_FEAST_ONLINE_STORE", "redis")
    clean_env.setenv("DRIFTLOOP_FEAST_REDIS_URL", "redis.driftloop:6379")
    clean_env.setenv("DRIFTLOOP_FEAST_REGISTRY_URI", "postgresql+psycopg://feast@pg:5432/feast")
    config = repo_config_dict(Settings())
    assert config["online_store"] == {"type": "redis", "connection_string": "redis.driftloop:6379"}
    # The stream worker alone writes its views' rows, and re-writes one at the same stamp after a late event.
    worker = repo_config_dict(Settings(), last_write_wins=True)["online_store"]
    assert worker == {"type": "redis", "connection_string": "redis.driftloop:6379", "skip_dedup": True}
    assert config["registry"]["registry_type"] == "sql"
    assert config["registry"]["path"].startswith("postgresql")


def test_config_is_accepted_by_feast(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from feast.repo_config import RepoConfig

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    config = RepoConfig(repo_path=tmp_path, **repo_config_dict(Settings()))
    assert config.online_store.type == "sqlite"
    assert config.project == "driftloop"


def test_a_view_being_materialised_keeps_serving(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The refresh materialises every hour; a server that reads the registry meanwhile must still serve (it
    answered 500 before: Feast refuses lookups on a view marked MATERIALIZING unless told otherwise)."""
    from feast.feature_view import FeatureViewState

    from driftloop.features.apply import apply_feature_repo
    from pipelines.features.store import open_feature_store

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    settings = Settings()
    apply_feature_repo(settings)
    writer = open_feature_store(settings)
    view = writer.get_feature_view("customer_stats")
    view.state = FeatureViewState.MATERIALIZING
    writer.registry.apply_feature_view(view, settings.feast_project, commit=True)
    server = open_feature_store(settings)  # a model server whose registry cache just refreshed
    assert server.get_feature_view("customer_stats").state == FeatureViewState.MATERIALIZING
    values = server.get_online_features(
        features=["customer_stats:txn_count_24h"], entity_rows=[{"customer_id": 1}]
    ).to_dict()
    assert values["txn_count_24h"] == [None]


def test_the_redis_password_goes_into_feasts_connection_string_and_never_into_config_show(
    clean_env: pytest.MonkeyPatch,
) -> None:
    from pydantic import SecretStr

    from driftloop.settings_doc import effective_values
    from pipelines.features.store import repo_config_dict

    settings = Settings(  # type: ignore[call-arg]
        feast_online_store="redis", feast_redis_url="redis:6379", feast_redis_password=SecretStr("s3cr3t"),
        _env_file=None,
    )  # fmt: skip
    assert repo_config_dict(settings)["online_store"]["connection_string"] == "redis:6379,password=s3cr3t"
    assert "s3cr3t" not in str(effective_values(settings))
    without = Settings(feast_online_store="redis", feast_redis_url="redis:6379", _env_file=None)  # type: ignore[call-arg]
    assert repo_config_dict(without)["online_store"]["connection_string"] == "redis:6379"


def test_a_write_in_progress_does_not_hold_up_a_servers_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The local online store is in WAL mode after apply: the stream worker's and the refresh's writes never
    make a model server's read wait (in SQLite's default mode a reader waits out an exclusive writer)."""
    import contextlib
    import sqlite3
    import time

    from driftloop.features.apply import apply_feature_repo
    from pipelines.features.store import open_feature_store, sqlite_online_store_path

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    settings = Settings()
    apply_feature_repo(settings)
    path = sqlite_online_store_path(settings)
    server = open_feature_store(settings, serving=True)
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as writer:
        assert writer.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        writer.execute("BEGIN EXCLUSIVE")  # a writer in the middle of its transaction
        started = time.monotonic()
        values = server.get_online_features(
            features=["customer_stats:txn_count_24h"], entity_rows=[{"customer_id": 1}]
        ).to_dict()
        took = time.monotonic() - started
        writer.execute("ROLLBACK")
    assert values["txn_count_24h"] == [None] and took < 1.0, took
