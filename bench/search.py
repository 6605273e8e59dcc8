"""Search benchmark: does a retraining run's hyperparameter search beat the fixed configuration, and what does it
cost?

Quality: on the demo's drifted scenario (the card network's feed and the wallet's, as the retraining after drift
sees them: `bench.gate_evidence`'s worlds), for each of `seeds` worlds, the fixed configuration and the one a search
of `trials` trials chose (validated on the training rows' last days, never the holdout) are each fitted on the same
training rows and scored on the same holdout the gate uses. The gain is searched minus fixed, per world.

Time: the same two trainings through the pipeline a user runs, `driftloop pipeline run training` on one window of a
local platform, without and with `--search-trials`, each timed whole (every step, start to end).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.environment import PORT_SETTINGS, free_port
from bench.gate_evidence import NOW, _world
from bench.provenance import write_result
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results"


def _holdout_metrics(model: Any, holdout: Any) -> dict[str, float]:
    from pipelines.training.evaluate import classification_metrics
    from pipelines.training.evidence import precision_at_budget
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.model import fraud_scores

    labels, scores = holdout[FRAUD.label.name].to_numpy(), fraud_scores(model, holdout)
    days = holdout["event_timestamp"].dt.floor("D").to_numpy()
    return {
        "roc_auc": classification_metrics(labels, scores)["roc_auc"],
        "precision_at_budget": precision_at_budget(labels, scores, days, int(FRAUD.metric.alert_budget)),  # type: ignore[arg-type]
    }


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": statistics.fmean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def run_quality(seeds: int, trials: int, first_seed: int = 1000) -> dict[str, Any]:
    """Fixed vs searched on `seeds` drifted worlds (one local Ray for every search)."""
    from pipelines.core.ray_runtime import ray_runtime
    from pipelines.training.search import SearchBudget, search
    from pipelines.training.train import train_model
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.model import TrainParams

    settings = Settings()
    worlds = []
    with ray_runtime(settings, object_store_mib=256) as cpus:
        for seed in range(first_seed, first_seed + seeds):
            at = NOW + timedelta(hours=float(np.random.default_rng(seed).uniform(0, 24)))  # any hour, as the demo
            train_rows, holdout = _world(seed, at)["both"]
            began = time.perf_counter()
            fixed = train_model(train_rows, FRAUD, TrainParams(), seed)
            fixed_seconds = time.perf_counter() - began
            began = time.perf_counter()
            outcome = search(
                train_rows, FRAUD, SearchBudget(trials, 3600), seed, {}, settings.search_validation_days, cpus
            )
            searched = train_model(train_rows, FRAUD, TrainParams(**outcome.chosen), seed)
            searched_seconds = time.perf_counter() - began
            fixed_metrics, searched_metrics = _holdout_metrics(fixed, holdout), _holdout_metrics(searched, holdout)
            worlds.append({
                "seed": seed, "train_rows": len(train_rows), "holdout_rows": len(holdout),
                "fixed": fixed_metrics, "searched": searched_metrics,
                "gain": {name: searched_metrics[name] - fixed_metrics[name] for name in fixed_metrics},
                "chosen": outcome.chosen, "chosen_trial": outcome.best.number,
                "trials": [{"number": t.number, "status": t.status, "scores": t.scores, "seconds": t.seconds}
                           for t in outcome.trials],
                "fixed_fit_seconds": round(fixed_seconds, 2), "search_and_fit_seconds": round(searched_seconds, 2),
            })  # fmt: skip
            logger.info("search bench: world %d: gain %s", seed, worlds[-1]["gain"])
    gains = {name: _spread([w["gain"][name] for w in worlds]) for name in ("roc_auc", "precision_at_budget")}
    return {
        "trials": trials,
        "worlds": worlds,
        "gain": gains,
        "searched_at_least_fixed": sum(w["gain"]["roc_auc"] >= 0 for w in worlds),
    }


def _timed_run(driftloop: str, env: dict[str, str], *args: str) -> float:
    began = time.perf_counter()
    subprocess.run([driftloop, *args], env=env, check=True, capture_output=True, timeout=1800)
    return round(time.perf_counter() - began, 1)


def run_pipeline_times(trials: int, folder: Path, repeats: int = 1) -> dict[str, Any]:
    """`pipeline run training` on one window of a fresh local platform: fixed, then searching, `repeats` times each
    (alternating, so a slow moment of the machine costs each side alike)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update({f"DRIFTLOOP_{s.upper()}": str(free_port()) for s in PORT_SETTINGS})
    env["DRIFTLOOP_STATE_DIR"] = str(folder / "search-state")
    driftloop = str(Path(sys.executable).with_name("driftloop"))
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    times: dict[str, list[float]] = {"fixed": [], "searched": []}
    try:
        subprocess.run([driftloop, "local", "up"], env=env, check=True, capture_output=True, timeout=600)
        data = folder / "search-data"
        # The demo's world: both feeds, the wallet's drift from day 10 (what a drift-triggered run trains on).
        generate = ["data", "generate", "--out", str(data), "--end", end.replace(tzinfo=None).isoformat()]
        _timed_run(driftloop, env, *generate, "--drift-start-day", "10")
        for kind in ("events", "labels"):
            _timed_run(driftloop, env, "data", "ingest", kind, str(data / f"{kind}.parquet"))
        window = ["pipeline", "run", "training", "--window-end", end.isoformat()]
        for _ in range(repeats):
            times["fixed"].append(_timed_run(driftloop, env, *window, "--search-trials", "0"))
            times["searched"].append(_timed_run(driftloop, env, *window, "--search-trials", str(trials)))
    finally:
        subprocess.run([driftloop, "local", "down"], env=env, capture_output=True, timeout=120, check=False)
    fixed, searched = min(times["fixed"]), min(times["searched"])
    return {"trials": trials, "runs": times, "fixed_seconds": fixed, "searched_seconds": searched,
            "ratio": round(searched / fixed, 2)}  # fmt: skip


def run_search_bench(folder: Path, seeds: int = 5, trials: int = 8) -> dict[str, Any]:
    return {"quality": run_quality(seeds, trials), "pipeline": run_pipeline_times(trials, folder, repeats=2)}


def table_lines(results: dict[str, Any]) -> list[str]:
    quality, pipeline = results["quality"], results["pipeline"]
    auc, precision = quality["gain"]["roc_auc"], quality["gain"]["precision_at_budget"]
    return [
        f"search | {len(quality['worlds'])} drifted worlds, {quality['trials']} trials, holdout gain over the fixed "
        f"configuration | ROC AUC {auc['mean']:+.4f} (sd {auc['sd']:.4f}, min {auc['min']:+.4f}), precision at "
        f"budget {precision['mean']:+.4f} (sd {precision['sd']:.4f}) | searched >= fixed in "
        f"{quality['searched_at_least_fixed']} of {len(quality['worlds'])}",
        f"search | pipeline run, fixed / {pipeline['trials']} trials | {pipeline['fixed_seconds']:.0f} / "
        f"{pipeline['searched_seconds']:.0f} s | {pipeline['ratio']:.2f}x the fixed run",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="drifted worlds")
    parser.add_argument("--trials", type=int, default=8, help="the search's budget in trials")
    parser.add_argument("--no-pipeline", action="store_true", help="quality only (no local platform)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="driftloop-search-bench-") as temporary:
        results = {"quality": run_quality(args.seeds, args.trials)}
        if not args.no_pipeline:
            results["pipeline"] = run_pipeline_times(args.trials, Path(temporary), repeats=2)
    out = write_result(RESULTS, "search", results)
    print(json.dumps(results.get("pipeline", {}), indent=1))  # noqa: T201
    print("\n".join(table_lines(results)) if "pipeline" in results else json.dumps(results["quality"]["gain"]))  # noqa: T201
    print(f"\nresults: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
