"""Drift benchmark: the drift job against Evidently's own Report.run and a scipy KS baseline."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

logger = logging.getLogger(__name__)


def _measure(implementation: str, rows: int, columns: int) -> dict[str, float]:
    command = [sys.executable, "-m", "bench.drift_worker", implementation, str(rows), str(columns)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def run_drift_bench(row_counts: list[int], columns: int = 20) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for rows in row_counts:
        runs = {name: _measure(name, rows, columns) for name in ("ours", "evidently", "ks")}
        runs["ours"]["time_vs_evidently"] = runs["ours"]["seconds"] / runs["evidently"]["seconds"]
        runs["ours"]["memory_vs_evidently"] = runs["ours"]["peak_rss_mib"] / runs["evidently"]["peak_rss_mib"]
        results[f"rows_{rows}"] = runs
        logger.info("drift at %d rows: %s", rows, {k: round(v["seconds"], 2) for k, v in runs.items()})
    return results
