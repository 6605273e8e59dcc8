"""Label requests: the work of `POST /v1/labels` against a store of 10 parts and one of 5,000, side by side.

A label request's cost must not grow with the store's history (issue 28): it looks its events and labels up
in the process's event index rather than reading every part. Both stores are built the same way (landed days,
label landings, prediction-log hours; 20 rows a part) and differ only in how many parts they hold. Requests
alternate between them in one process, so a slow moment of the machine falls on both, and each one labels
five known transactions with a verdict they do not hold yet: a real landing (index catch-up, writer lock,
contract checks, one durable write) every time. The route's HTTP framing is the same for both and left out.
The first request of each store builds its index (the servers do that at start) and is not counted. Then a few
requests for an id no store knows measure how soon a 404 comes (the route's wait for answers not yet published,
DRIFTLOOP_LABEL_EVENT_WAIT_S, is left out: it is the same for both).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.layout import Layout

logger = logging.getLogger(__name__)

ROWS_PER_PART = 20
START = pd.Timestamp("2026-01-01", tz="UTC")


def _build_store(root: Path, parts: int) -> tuple[Any, list[str]]:
    """Settings of a store with `parts` parts (40% landed days, 40% label landings, 20% prediction-log hours)
    and the ids of its events."""
    from pipelines.core.settings import Settings
    from pipelines.data.event_store import event_store_for
    from pipelines.data.prediction_log_format import partition_name
    from pipelines.data.storage import Folder, unique_part_name

    settings = Settings(state_dir=root, _env_file=None)  # type: ignore[call-arg]
    store = event_store_for(settings)
    landed, labelled = int(parts * 0.4), int(parts * 0.4)
    served = parts - landed - labelled
    ids: list[str] = []
    for index in range(landed + served):
        moment = START + pd.Timedelta(minutes=7 * index)
        batch = [f"e{index}-{n}" for n in range(ROWS_PER_PART)]
        ids += batch
        events = pd.DataFrame({
            "event_id": pd.array(batch, dtype="string"), "event_timestamp": moment,
            "customer_id": np.arange(ROWS_PER_PART, dtype="int64"), "merchant_id": np.int64(3),
            "amount": 12.5, "channel": "online",
        })  # fmt: skip
        if index < landed:
            store.append_events(events, moment)
        else:
            rows = events.assign(role="served", logged_at=moment, prediction=0.1, model_version="1")
            Folder.at(Layout.from_settings(settings).prediction_log.url).write_parquet(
                rows, f"{partition_name(moment)}/{unique_part_name()}"
            )
    for index in range(labelled):
        batch = ids[(index * ROWS_PER_PART) % len(ids) :][:ROWS_PER_PART]
        labels = pd.DataFrame({"event_id": pd.array(batch, dtype="string"), "is_fraud": 0,
                               "label_timestamp": START + pd.Timedelta(days=40)})  # fmt: skip
        store.append_labels(labels, START + pd.Timedelta(days=40, minutes=index), trusted_times=True)
    return settings, ids


def _percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1000
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 2),
        "p99_ms": round(float(np.percentile(values, 99)), 2),
    }


def run_label_bench(
    folder: Path, sizes: tuple[int, ...] = (10, 5000), requests: int = 200, unknown: int = 30
) -> dict[str, Any]:
    """p50 and p99 of a label request per store size, and the p99 ratio of the largest to the smallest."""
    from serving.feedback import receive_labels

    stores = {}
    for parts in sizes:
        started = time.monotonic()
        stores[parts] = _build_store(folder / f"labels-{parts}", parts)
        logger.info("label bench: built a store of %d parts in %.1f s", parts, time.monotonic() - started)
    rng = np.random.default_rng(5)
    timings: dict[int, list[float]] = {parts: [] for parts in sizes}
    for round_ in range(requests + 1):
        for parts, (settings, ids) in stores.items():
            chosen = rng.choice(len(ids), 5, replace=False)
            body = {"labels": [{"event_id": ids[i], "is_fraud": 1 - round_ % 2} for i in chosen]}
            started = time.perf_counter()
            status, content, _ = receive_labels(settings, body, "bench")
            elapsed = time.perf_counter() - started
            if status != 200:
                raise RuntimeError(f"label bench: a request answered {status}: {content}")
            if round_:  # the first builds the index
                timings[parts].append(elapsed)
    refused: dict[int, list[float]] = {parts: [] for parts in sizes}
    for round_ in range(unknown):
        for parts, (settings, _) in stores.items():
            started = time.perf_counter()
            status, content, _ = receive_labels(
                settings, {"labels": [{"event_id": f"nobody-{round_}", "is_fraud": 1}]}, "bench"
            )
            refused[parts].append(time.perf_counter() - started)
            if status != 404:
                raise RuntimeError(f"label bench: an unknown id answered {status}: {content}")
    results: dict[str, Any] = {
        f"parts_{parts}": {**_percentiles(timings[parts]), "unknown_id": _percentiles(refused[parts])}
        for parts in sizes
    }
    smallest, largest = results[f"parts_{min(sizes)}"], results[f"parts_{max(sizes)}"]
    results["p99_ratio"] = round(largest["p99_ms"] / smallest["p99_ms"], 2)
    results["p50_ratio"] = round(largest["p50_ms"] / smallest["p50_ms"], 2)
    logger.info("label bench: %s", results)
    return results
