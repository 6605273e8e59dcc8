"""The `ray` engine on a real local Ray: reading its partitions from the event store it writes the pandas
engine's feature tables, its partitioned point-in-time join (and the pandas engine's, in one partition)
writes the training set Feast's `get_historical_features` gives (the same rows, values and types), and the Ray
it started leaves no process behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psutil
import pytest

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.data.event_store import event_store_for
from pipelines.features.compute_engine import open_engine
from pipelines.features.offline_store import offline_table_paths, read_offline_table
from pipelines.features.refresh import build_features_from_store, lookback
from pipelines.features.training_set_build import training_set_from_snapshot
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=14)


def test_ray_engine_writes_the_pandas_engine_tables_and_training_set_and_leaves_nothing_running(
    tmp_path: Path,
) -> None:
    from driftloop.features.apply import apply_feature_repo

    events, labels = generate(FraudConfig(end=END, days=14, size=300, merchants=25, seed=5))
    snapshot = {"events": tmp_path / "events.parquet", "labels": tmp_path / "labels.parquet"}
    events.to_parquet(snapshot["events"], index=False)
    labels.to_parquet(snapshot["labels"], index=False)
    base = Settings(state_dir=tmp_path / "state")
    store = event_store_for(base)
    with store.locked():
        store.append_events(events, pd.Timestamp(END))
        store.append_labels(labels, pd.Timestamp(END), trusted_times=True)
    tables: dict[str, dict[str, pd.DataFrame]] = {}
    training_sets: dict[str, pd.DataFrame] = {}
    ray_processes: list[psutil.Process] = []
    for engine_name in ("pandas", "ray"):
        settings = base.model_copy(
            update={
                "feature_engine": engine_name,
                "feature_partitions": 5,
                "ray_cpus": 2,
                "ray_object_store_mib": 256,
                "feast_repo_path": tmp_path / engine_name,
            }
        )
        with open_engine(settings) as engine:
            assert engine.name == engine_name
            if engine_name == "ray":
                ray_processes = psutil.Process().children(recursive=True)
                assert any(p.name() == "raylet" for p in ray_processes), "no local Ray was started"
            read, written = build_features_from_store(settings, START - lookback(FRAUD), START, END, END, engine)
            apply_feature_repo(settings)
            training_sets[engine_name] = training_set_from_snapshot(
                settings, snapshot["events"], snapshot["labels"], 2, engine
            )
            if engine_name == "pandas":  # Feast's own retrieval, the rule our as-of joins follow
                feast = settings.model_copy(update={"training_set_join": "feast"})
                training_sets["feast"] = training_set_from_snapshot(
                    feast, snapshot["events"], snapshot["labels"], 2, engine
                )
        assert read == len(events) and min(written.values()) > 0
        paths = offline_table_paths(Layout.from_settings(settings).feast_repo, FRAUD)
        tables[engine_name] = {view: read_offline_table(path, FRAUD.key_of(path.name)) for view, path in paths.items()}
        parts = {view: len(path.files("part-*.parquet")) for view, path in paths.items()}
        assert set(parts.values()) == {1 if engine_name == "pandas" else 5}, parts
    for view, table in tables["pandas"].items():
        pd.testing.assert_frame_equal(tables["ray"][view], table, check_exact=True)
    assert len(training_sets["pandas"]) > 1000
    assert training_sets["pandas"]["customer_stats__txn_count_24h"].notna().mean() > 0.9
    pd.testing.assert_frame_equal(training_sets["pandas"], training_sets["feast"], check_exact=True)
    pd.testing.assert_frame_equal(training_sets["ray"], training_sets["feast"], check_exact=True)
    psutil.wait_procs(ray_processes, timeout=20)
    assert [p.pid for p in ray_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
