"""Scale benchmark: `driftloop features build` over 30 days of events at growing sizes, then `driftloop
features training-set` over the same window (what the pipeline's training-set step runs), once per engine, as a
user runs them (each its own process), with the wall time and the peak memory of the whole process tree (the
command, and for `ray` the local Ray it starts: GCS, raylet, workers, the object store's pages).

Peak memory is the largest sum of PSS over the tree, sampled every 0.2 s: PSS shares pages mapped by several
processes (Ray's object store, shared libraries) out among them, so nothing is counted twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

logger = logging.getLogger(__name__)

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS = 30
EVENTS_PER_CUSTOMER = 98  # what the generator draws over 30 days with 200 merchants (5,494 customers: 538,700)
SIZES = {"events_0.1M": 100_000, "events_0.5M": 500_000, "events_2M": 2_000_000, "events_8M": 8_000_000}
# A command whose tree grows past this is stopped and recorded as failed: on this 24 GiB machine the kernel's
# out-of-memory killer would otherwise pick a victim (Feast's file-store training-set join reaches it near 0.5M
# events).
MEMORY_CAP_MIB = 20_480


def _tree_pss(root: psutil.Process) -> int:
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _land(state_dir: Path, events_wanted: int, seed: int) -> int:
    """Generated events and labels in a fresh event store, and as a snapshot (`events.parquet`,
    `labels.parquet`: what the pipeline's validation step hands on); returns the number of events."""
    import pandas as pd

    from pipelines.data.event_store import EventStore
    from use_cases.fraud.generator import FraudConfig, generate

    customers = max(1, events_wanted // EVENTS_PER_CUSTOMER)
    events, labels = generate(FraudConfig(end=END, days=DAYS, size=customers, merchants=200, seed=seed))
    from use_cases.fraud import USE_CASE

    store = EventStore(state_dir / "events", state_dir / "predictions", USE_CASE)
    landed_at = pd.Timestamp(END)
    with store.locked():
        store.append_events(events, landed_at)
        store.append_labels(labels, landed_at, trusted_times=True)
    events.to_parquet(state_dir / "events.parquet", index=False)
    labels.to_parquet(state_dir / "labels.parquet", index=False)
    return len(events)


def _environment(state_dir: Path, engine: str) -> dict[str, str]:
    """One state folder (the event store) for both engines, each with its own feature repo: each engine's
    build and training set then run on the table layout it writes itself, as they do for a user who chose it
    (a switch of engines rewrites the layout once; that is not what is measured)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update(
        {
            "DRIFTLOOP_STATE_DIR": str(state_dir),
            "DRIFTLOOP_FEAST_REPO_PATH": str(state_dir / f"feast-{engine}"),
            "DRIFTLOOP_FEATURE_ENGINE": engine,
            "DRIFTLOOP_LOG_LEVEL": "WARNING",
        }
    )
    return env


def _measure(state_dir: Path, engine: str, arguments: list[str]) -> dict[str, Any]:
    """One `driftloop ...` command: wall seconds and the tree's peak PSS (MiB); a failure (say, out of memory)
    is a result too, with the command's last words."""
    env = _environment(state_dir, engine)
    began = time.perf_counter()
    command = [str(Path(sys.executable).with_name("driftloop")), *arguments]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    watched, peak, capped = psutil.Process(process.pid), 0, False
    while process.poll() is None:
        peak = max(peak, _tree_pss(watched))
        if peak > MEMORY_CAP_MIB * 2**20 and not capped:
            capped = True
            for member in [*watched.children(recursive=True), watched]:
                with contextlib.suppress(psutil.Error):
                    member.kill()
        time.sleep(0.2)
    result: dict[str, Any] = {"seconds": round(time.perf_counter() - began, 2), "peak_mib": round(peak / 2**20, 1)}
    if capped:
        result["failed"] = f"stopped above the {MEMORY_CAP_MIB} MiB cap"
    elif process.returncode != 0:
        output = process.stdout.read().decode() if process.stdout else ""
        result["failed"] = f"exit {process.returncode}: {output[-500:]}"
        logger.warning("%s (%s) failed: %s", " ".join(arguments[:2]), engine, result["failed"])
    return result


def _engine_runs(state_dir: Path, engine: str, skip: set[str]) -> dict[str, Any]:
    """The feature build over the whole window, then the training set of the window's snapshot (a stage in
    `skip` is recorded as failed without running)."""
    window = ["--start", f"{END - timedelta(days=DAYS):%Y-%m-%dT%H:%M:%S}", "--end", f"{END:%Y-%m-%dT%H:%M:%S}"]
    snapshot = [f"--events={state_dir / 'events.parquet'}", f"--labels={state_dir / 'labels.parquet'}"]
    out = f"--out={state_dir / f'training-{engine}.parquet'}"
    commands = {
        "features": ["features", "build", *window],
        "training_set": ["features", "training-set", *snapshot, out],
    }
    return {
        stage: {"seconds": 0.0, "peak_mib": 0.0, "failed": "not run: failed at a smaller size"}
        if stage in skip
        else _measure(state_dir, engine, arguments)
        for stage, arguments in commands.items()
    }


def run_scale_bench(folder: Path, sizes: list[str], engines: tuple[str, ...] = ("pandas", "ray")) -> dict[str, Any]:
    results: dict[str, Any] = {}
    failed_before: dict[str, set[str]] = {}  # a stage that failed at a smaller size is not tried at a larger
    for size in sizes:
        state = folder / f"scale-{size}"
        events = _land(state, SIZES[size], seed=17)
        for engine in engines:
            subprocess.run(
                [str(Path(sys.executable).with_name("driftloop")), "features", "apply"],
                env=_environment(state, engine), check=True, capture_output=True,
            )  # fmt: skip
        runs = {engine: _engine_runs(state, engine, failed_before.get(engine, set())) for engine in engines}
        for engine, stages in runs.items():
            failed_before.setdefault(engine, set()).update(stage for stage, run in stages.items() if "failed" in run)
        for stages in runs.values():
            for metrics in stages.values():
                metrics["us_per_event"] = round(metrics["seconds"] / events * 1e6, 2)
        results[size] = {"events": events, **runs}
        logger.info("scale %s (%d events): %s", size, events, runs)
    return results
