"""Feature lookup benchmark, 1 and 100 transactions, SQLite and Redis online stores: our whole lookup step
(`OnlineFeatures.lookup`, arrays in, arrays out, read through Feast's online-store interface) beside Feast's own
public `get_online_features` call for the same keys (columnar keys, as we call it, and a list of row dicts, as
Feast's docs show) and a raw read of the very rows Feast stores for those keys (the floor: SQLite SELECT, Redis
HGETALL pipeline)."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench.environment import BenchPlatform, free_port

logger = logging.getLogger(__name__)


def _summary(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {"p50_ms": statistics.median(samples), "p95_ms": samples[int(0.95 * (len(samples) - 1))], "n": len(samples)}


def _timed(call: Callable[[], object], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return _summary(samples)


def _timed_in_turn(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict[str, float]]:
    """Each call once per round, in turn: on a shared machine a burst of load then slows all of them, not only
    the one whose block it fell in (it moved a ratio from 0.6x to 1.2x between back-to-back runs)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            began = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - began) * 1000)
    return {name: _summary(taken) for name, taken in samples.items()}


def _measure(into: dict[str, Any], store: Any, entities: pd.DataFrame, repeats: int) -> None:
    """Ours and Feast's own call for 1 and 100 transactions; `ratio` is ours over Feast's (same call shape)."""
    from serving.online_features import OnlineFeatures
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.schema import FEATURE_REFS

    ours, refs = OnlineFeatures(store, FRAUD), list(FEATURE_REFS)
    for size in (1, 100):
        batch = entities.head(size)
        customers, merchants = batch["customer_id"].to_numpy(), batch["merchant_id"].to_numpy()
        columns = {"customer_id": customers.tolist(), "merchant_id": merchants.tolist()}
        rows = [{"customer_id": int(c), "merchant_id": int(m)} for c, m in zip(customers, merchants, strict=True)]
        figures: dict[str, Any] = _timed_in_turn(
            {
                "ours": lambda c=customers, m=merchants: ours.lookup({"customer_id": c, "merchant_id": m}),
                "feast_columns": lambda k=columns: store.get_online_features(
                    features=refs, entity_rows=k, full_feature_names=True
                ),
                "feast_rows": lambda k=rows: store.get_online_features(
                    features=refs, entity_rows=k, full_feature_names=True
                ),
            },
            repeats,
        )
        figures["ratio"] = figures["ours"]["p50_ms"] / figures["feast_columns"]["p50_ms"]
        into[f"entities_{size}"] = figures


def run_feature_bench(platform: BenchPlatform, folder: Path, repeats: int) -> dict[str, Any]:
    from pipelines.core.settings import Settings
    from pipelines.features.store import materialize_online, open_feature_store, sqlite_online_store_path

    sqlite_settings = Settings()
    entities = platform.requests[["customer_id", "merchant_id"]]
    results: dict[str, Any] = {"sqlite": {}, "redis": {}}
    sqlite_store = open_feature_store(sqlite_settings)
    _measure(results["sqlite"], sqlite_store, entities, repeats)
    database = sqlite3.connect(str(sqlite_online_store_path(sqlite_settings)))
    tables = [name for (name,) in database.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for size in (1, 100):
        keyed = {
            table: [key for (key,) in database.execute(f'SELECT DISTINCT entity_key FROM "{table}" LIMIT ?', (size,))]
            for table in tables
        }

        def raw_sqlite(keyed: dict[str, list[bytes]] = keyed) -> None:
            for table, keys in keyed.items():
                marks = ",".join("?" * len(keys))
                database.execute(f'SELECT * FROM "{table}" WHERE entity_key IN ({marks})', keys).fetchall()

        results["sqlite"][f"entities_{size}"]["raw_read"] = _timed(raw_sqlite, repeats)
    database.close()

    if shutil.which("redis-server") is None:
        results["redis"] = {"skipped": "redis-server is not installed (apt-get install redis-server)"}
        return results
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.5)
        redis_settings = sqlite_settings.model_copy(
            update={"feast_online_store": "redis", "feast_redis_url": f"127.0.0.1:{port}"}
        )
        from pipelines.features.store import write_feature_store_yaml

        write_feature_store_yaml(redis_settings)
        store = open_feature_store(redis_settings)
        store.apply(list(store.list_feature_views()) + list(store.list_entities()))
        materialize_online(redis_settings, pd.Timestamp.now(tz="UTC").floor("h").to_pydatetime())
        _measure(results["redis"], store, entities, repeats)
        import redis

        client = redis.Redis(port=port)
        keys = [key for key in client.scan_iter(count=1000)]
        for size in (1, 100):
            chosen = keys[: size * 2]  # one customer and one merchant key per entity row

            def raw(chosen: list[bytes] = chosen) -> None:
                pipe = client.pipeline(transaction=False)
                for key in chosen:
                    pipe.hgetall(key)
                pipe.execute()

            results["redis"][f"entities_{size}"]["raw_read"] = _timed(raw, repeats)
        write_feature_store_yaml(sqlite_settings)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return results
