"""Canary decision rates: how often the sequential test promotes a truly better challenger, rolls back a worse
one, and leaves an equal one undecided within the horizon, over seeded simulations of live traffic.

The world is the demo's (its seed, 30 days, the wallet partner from day 10), seen as the retraining run sees
it: the champion is fitted on the card network's feed alone (the demo's v1), the candidate on both feeds (the
retrained v2). Live traffic is the drifted period's holdout (rows neither model trained on), scored by both
models. A simulation draws rows from it at random (with replacement: the holdout is the truth), routes each to
the challenger at the canary share as the predictor does, and feeds each arm's per-row losses, in arrival
order, to the platform's own test (monitoring/canary_sprt.py) at a look every LOOK_EVERY labelled rows (the
monitor's checks). Three kinds: better (v2 challenges v1), worse (v1 challenges v2), equal (v1 challenges
itself).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.fraud_world import HOLDOUT_DAYS, demo_feeds, feature_tables, training_set
from monitoring.canary_sprt import EXPIRE, PROMOTE, ROLLBACK, CanaryPlan, row_losses, run_stream
from pipelines.core.settings import Settings
from pipelines.training.evaluate import split_by_time
from pipelines.training.train import train_model
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import TrainParams, fraud_scores

logger = logging.getLogger(__name__)

RESULTS = Path(__file__).resolve().parent / "results"
NOW = datetime(2026, 12, 1, tzinfo=UTC)  # fixed: the same seed gives the same world on any day
DEMO_SEED = 42
SHARE = 0.2  # the canary share simulated (DRIFTLOOP_CANARY_SHARE for a cluster that turns canaries on)
LOOK_EVERY = 200  # labelled rows between two looks
EXPECTED = {"better": PROMOTE, "worse": ROLLBACK, "equal": EXPIRE}


def _losses() -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """(v1's, v2's) per-row losses on the drifted period's holdout, and what the world is."""
    base_events, base_labels, both_events, both_labels = demo_feeds(NOW, DEMO_SEED)
    now, fitted = pd.Timestamp(NOW), {}
    for name, events, labels in (("v1", base_events, base_labels), ("v2", both_events, both_labels)):
        seen = events[events["event_timestamp"] < now].reset_index(drop=True)
        known = labels[(labels["label_timestamp"] < now) & labels["event_id"].isin(seen["event_id"])]
        train_rows, holdout = split_by_time(training_set(seen, known, feature_tables(seen, known, NOW)), HOLDOUT_DAYS)
        fitted[name] = (train_model(train_rows, FRAUD, TrainParams(), DEMO_SEED), holdout)
    live = fitted["v2"][1]
    truth = live[FRAUD.label.name].to_numpy()
    losses = [row_losses(FRAUD.label.kind, truth, fraud_scores(fitted[v][0], live)) for v in ("v1", "v2")]
    world = {"live_rows": len(live), "fraud_share": float(truth.mean())}
    world.update({f"{v}_mean_loss": float(loss.mean()) for v, loss in zip(("v1", "v2"), losses, strict=True)})
    return losses[0], losses[1], world


def simulate(plan: CanaryPlan, champion: np.ndarray, challenger: np.ndarray, seed: int) -> dict[str, Any]:
    """One canary over random live rows until the test decides or the horizon passes."""
    rng = np.random.default_rng(seed)
    rows = int(plan.horizon_rows / min(SHARE, 1 - SHARE)) + 10 * LOOK_EVERY  # enough for the horizon
    drawn, to_challenger = rng.integers(0, len(champion), rows), rng.random(rows) < SHARE
    losses = np.where(to_challenger, challenger[drawn], champion[drawn])
    verdict, read = run_stream(plan, to_challenger, losses, LOOK_EVERY)
    return {
        "seed": seed, "decision": verdict.decision, "rows": read, "challenger_rows": verdict.challenger.rows,
        "p_value": verdict.p_value, "statistic": verdict.statistic, "difference": verdict.difference,
    }  # fmt: skip


def run_canary_bench(runs: int = 20, seed: int = 0) -> dict[str, Any]:
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    settings = Settings()
    plan = CanaryPlan(settings.canary_alpha, settings.canary_min_rows, settings.canary_horizon_rows)
    with threadpool_limits(1):  # one OpenMP thread: the 2-core machine fits the same trees faster
        v1, v2, world = _losses()
    pairs = {"better": (v1, v2), "worse": (v2, v1), "equal": (v1, v1)}
    results: dict[str, Any] = {
        "runs": runs, "share": SHARE, "look_every": LOOK_EVERY, "alpha": plan.alpha, "min_rows": plan.min_rows,
        "horizon_rows": plan.horizon_rows, "world": world, "kinds": {},
    }  # fmt: skip
    for kind, (champion, challenger) in pairs.items():
        sims = [simulate(plan, champion, challenger, seed + index) for index in range(runs)]
        decided = [s for s in sims if s["decision"] in (PROMOTE, ROLLBACK)]
        results["kinds"][kind] = {
            "expected": EXPECTED[kind],
            "promote_rate": sum(s["decision"] == PROMOTE for s in sims) / runs,
            "rollback_rate": sum(s["decision"] == ROLLBACK for s in sims) / runs,
            "neither_rate": sum(s["decision"] not in (PROMOTE, ROLLBACK) for s in sims) / runs,
            "expected_rate": sum(s["decision"] == EXPECTED[kind] for s in sims) / runs,
            "median_rows_to_decision": float(np.median([s["rows"] for s in decided])) if decided else None,
            "median_challenger_rows_to_decision": (
                float(np.median([s["challenger_rows"] for s in decided])) if decided else None
            ),
            "sims": sims,
        }
    results["accepted"] = all(k["expected_rate"] >= 0.9 for k in results["kinds"].values())
    results["seconds"] = round(time.perf_counter() - started, 1)
    return results


def table_lines(results: dict[str, Any]) -> list[str]:
    lines = []
    for kind, k in results["kinds"].items():
        rows, theirs = k["median_rows_to_decision"], k["median_challenger_rows_to_decision"]
        to_decision = f"; median {rows:.0f} labelled rows ({theirs:.0f} challenger's)" if rows is not None else ""
        lines.append(
            f"canary {kind} | {results['runs']} runs at share {results['share']:.0%}, horizon "
            f"{results['horizon_rows']} rows per arm | promoted {k['promote_rate']:.0%}, rolled back "
            f"{k['rollback_rate']:.0%}, neither {k['neither_rate']:.0%}" + to_decision + f" | {k['expected']} >= 90%"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="simulations of each kind")
    parser.add_argument("--seed", type=int, default=0, help="the first simulation's seed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    results = run_canary_bench(args.runs, args.seed)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"canary-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print("\n".join(table_lines(results)))  # noqa: T201 - the table is this command's output
    print(f"\naccepted: {results['accepted']} ({results['seconds']:.0f} s)\nresults: {out}")  # noqa: T201


if __name__ == "__main__":
    main()
