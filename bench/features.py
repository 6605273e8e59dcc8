"""Feature lookup benchmark: Feast online lookups for 1 and 100 entities, SQLite and Redis online
stores, against a raw Redis read of the very keys Feast stores (the floor)."""

from __future__ import annotations

import logging
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench.environment import BenchPlatform, free_port

logger = logging.getLogger(__name__)


def _timed(call: Callable[[], object], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {"p50_ms": statistics.median(samples), "p95_ms": samples[int(0.95 * (len(samples) - 1))], "n": len(samples)}


def run_feature_bench(platform: BenchPlatform, folder: Path, repeats: int) -> dict[str, Any]:
    from driftloop.features.materialize import materialize_online
    from driftloop.features.store_config import open_feature_store
    from driftloop.settings import Settings
    from serving.online_features import OnlineFeatures

    sqlite_settings = Settings()
    entities = platform.requests[["customer_id", "merchant_id"]]
    results: dict[str, Any] = {"sqlite": {}, "redis": {}, "raw_redis": {}}
    sqlite = OnlineFeatures(open_feature_store(sqlite_settings))
    for size in (1, 100):
        batch = entities.head(size)
        results["sqlite"][f"entities_{size}"] = _timed(lambda b=batch: sqlite.lookup(b), repeats)

    if shutil.which("redis-server") is None:
        results["redis"] = results["raw_redis"] = {
            "skipped": "redis-server is not installed (apt-get install redis-server)"
        }
        return results
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        time.sleep(0.5)
        redis_settings = sqlite_settings.model_copy(
            update={"feast_online_store": "redis", "feast_redis_url": f"127.0.0.1:{port}"}
        )
        from driftloop.features.store_config import write_feature_store_yaml

        write_feature_store_yaml(redis_settings)
        store = open_feature_store(redis_settings)
        store.apply(list(store.list_feature_views()) + list(store.list_entities()))
        materialize_online(redis_settings, pd.Timestamp.now(tz="UTC").floor("h").to_pydatetime())
        redis_lookup = OnlineFeatures(store)
        import redis

        client = redis.Redis(port=port)
        keys = [key for key in client.scan_iter(count=1000)]
        for size in (1, 100):
            batch = entities.head(size)
            results["redis"][f"entities_{size}"] = _timed(lambda b=batch: redis_lookup.lookup(b), repeats)
            chosen = keys[: size * 2]  # one customer and one merchant key per entity row

            def raw(chosen: list[bytes] = chosen) -> None:
                pipe = client.pipeline(transaction=False)
                for key in chosen:
                    pipe.hgetall(key)
                pipe.execute()

            results["raw_redis"][f"entities_{size}"] = _timed(raw, repeats)
        write_feature_store_yaml(sqlite_settings)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return results
