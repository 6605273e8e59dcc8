"""The `ray` feature engine on a real local Ray: the feature tables it writes equal the pandas engine's,
byte for byte in values and order, and the Ray it started leaves no process behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psutil
import pytest

from driftloop.core.settings import Settings
from pipelines.compute_engine import open_engine
from pipelines.data_generator import GeneratorConfig, generate
from pipelines.offline_store import build_offline_features, offline_table_paths

pytestmark = pytest.mark.integration

END = datetime(2026, 11, 1, tzinfo=UTC)
START = END - timedelta(days=14)


def test_ray_engine_writes_the_pandas_engine_tables_and_leaves_nothing_running(tmp_path: Path) -> None:
    events, labels = generate(GeneratorConfig(end=END, days=14, customers=300, merchants=25, seed=5))
    base = Settings(state_dir=tmp_path / "state")
    tables: dict[str, dict[str, pd.DataFrame]] = {}
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
            written = build_offline_features(
                events, labels, settings.feast_path, START, END, END, engine, settings.feature_partitions
            )
        assert min(written.values()) > 0
        tables[engine_name] = {
            view: pd.read_parquet(path) for view, path in offline_table_paths(settings.feast_path).items()
        }
    for view, table in tables["pandas"].items():
        pd.testing.assert_frame_equal(tables["ray"][view], table, check_exact=True)
    psutil.wait_procs(ray_processes, timeout=20)
    assert [p.pid for p in ray_processes if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
