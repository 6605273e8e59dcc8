"""Drift alarm rates: how often the real drift check cries wolf on healthy traffic, and how often it catches
real drift, over many replayed windows.

The world is the demo's (same generator, sizes and seed). v1 is trained the pipeline's way on the card
network's history (features from the platform's definitions, joined point-in-time, time-based holdout), and
its drift reference is built the way `pipelines.training.steps.train` builds it. A window replays what the endpoint
sees in one drift check: `rows` transactions of the hours after a moment H, scored with the features the
online store holds at H (the latest hourly row at or before H, as the refresh materialises it). Healthy
windows draw from the card network's feed; drifted windows from both feeds, with features that include the
wallet partner's transactions. Every window goes through `monitoring.drift.run_drift_report`, the check the
platform runs, with its per-column tests.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from bench.fraud_world import as_of, feature_tables, training_set

logger = logging.getLogger(__name__)


def _train_v1(events: pd.DataFrame, labels: pd.DataFrame, tables: dict[str, pd.DataFrame], seed: int) -> Any:
    from pipelines.training.evaluate import classification_metrics, split_by_time
    from pipelines.training.train import train_model
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.model import FEATURE_DEFAULT, TrainParams, fraud_scores
    from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS, MODEL_INPUT_COLUMNS

    training = training_set(events, labels, tables)
    train_rows, holdout = split_by_time(training, 5)
    model = train_model(train_rows, FRAUD, TrainParams(), seed)
    auc = classification_metrics(holdout["is_fraud"].to_numpy(), fraud_scores(model, holdout))["roc_auc"]
    recent = train_rows[train_rows["event_timestamp"] >= train_rows["event_timestamp"].max() - timedelta(days=7)]
    reference = recent.sample(n=min(5000, len(recent)), random_state=seed)[list(MODEL_INPUT_COLUMNS)]
    reference = reference.fillna({c: FEATURE_DEFAULT for c in FEATURE_VIEW_COLUMNS})
    return model, reference.assign(prediction=fraud_scores(model, reference)).reset_index(drop=True), auc


def _window(
    events: pd.DataFrame, tables: dict[str, pd.DataFrame], moment: pd.Timestamp, rows: int, hours: int, seed: int
) -> pd.DataFrame:
    from use_cases.fraud.model import FEATURE_DEFAULT
    from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS

    ahead = events[
        (events["event_timestamp"] >= moment) & (events["event_timestamp"] < moment + pd.Timedelta(hours=hours))
    ]
    sample = ahead.sample(n=min(rows, len(ahead)), random_state=seed)
    frame = as_of(sample, tables, pd.Series(moment.floor("h"), index=sample.index))
    return frame.fillna({c: FEATURE_DEFAULT for c in FEATURE_VIEW_COLUMNS})


def run_alarm_bench(windows: int = 20, rows: int = 600, seed: int = 42) -> dict[str, Any]:
    """False-alarm and detection rates over `windows` healthy and `windows` drifted replays."""
    from monitoring.drift import MonitoredColumns, run_drift_report
    from monitoring.drift_tests import independent_values
    from use_cases.fraud import USE_CASE as FRAUD
    from use_cases.fraud.generator import FraudConfig, generate_feeds
    from use_cases.fraud.model import fraud_scores
    from use_cases.fraud.schema import MODEL_INPUT_COLUMNS

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = now + timedelta(hours=24)
    config = FraudConfig(end=end, seed=seed, days=30, size=500, merchants=80, drift_start_day=10)
    feeds = generate_feeds(config)
    base, both = feeds.base, pd.concat([feeds.base.events, feeds.drifted.events], ignore_index=True)
    all_labels = pd.concat([feeds.base.labels, feeds.drifted.labels], ignore_index=True)
    history = base.events[base.events["event_timestamp"] < pd.Timestamp(now)]
    known = base.labels[base.labels["label_timestamp"] < pd.Timestamp(now)]
    model, reference, v1_auc = _train_v1(history, known, feature_tables(history, known, now), seed)
    arrived = pd.Timestamp(end)
    tables = {
        "healthy": feature_tables(base.events, base.labels[base.labels["label_timestamp"] < arrived], end),
        "drifted": feature_tables(
            both.sort_values("event_timestamp"), all_labels[all_labels["label_timestamp"] < arrived], end
        ),
    }
    sources = {"healthy": base.events, "drifted": both}
    rng = np.random.default_rng(seed)
    watched = MonitoredColumns.of(FRAUD)
    results: dict[str, Any] = {"v1_holdout_roc_auc": round(float(v1_auc), 4), "rows": rows, "windows": windows}
    for kind in ("healthy", "drifted"):
        runs = []
        for index in range(windows):
            moment = pd.Timestamp(now) - pd.Timedelta(hours=float(rng.uniform(0, 72)))
            current = _window(sources[kind], tables[kind], moment, rows, hours=12, seed=index)
            current = current.assign(prediction=fraud_scores(model, current[list(MODEL_INPUT_COLUMNS)]))
            drift = run_drift_report(reference, current, watched)
            runs.append({
                "share": drift.drift_share, "drifted": drift.drifted_columns, "scores": drift.column_scores,
                "independent": {
                    column: independent_values(current, column, watched.entity_of) for column in drift.column_scores
                },
            })  # fmt: skip
        results[kind] = runs
    results["summary"] = summarise(results)
    return results


def flagged_at(run: dict[str, Any], multiple: float) -> list[str]:
    """The columns a window would flag with another noise multiple (the rule of monitoring/drift_tests.py)."""
    from monitoring.drift_tests import CATEGORICAL_THRESHOLD, THRESHOLD_FLOOR

    flagged = []
    for column, score in run["scores"].items():
        if column == "channel":
            threshold = CATEGORICAL_THRESHOLD
        else:
            threshold = max(THRESHOLD_FLOOR, multiple / float(np.sqrt(run["independent"][column])))
        if score >= threshold:
            flagged.append(column)
    return flagged


def rates(
    healthy: list[dict[str, Any]], drifted: list[dict[str, Any]], multiple: float, share: float
) -> dict[str, float]:
    def share_of(run: dict[str, Any]) -> float:
        return len(flagged_at(run, multiple)) / len(run["scores"])

    return {
        "healthy_windows_at_most_1_column": sum(len(flagged_at(r, multiple)) <= 1 for r in healthy) / len(healthy),
        "healthy_false_triggers": sum(share_of(r) >= share for r in healthy) / len(healthy),
        "drifted_windows_triggering": sum(share_of(r) >= share for r in drifted) / len(drifted),
        "drifted_share_min": min(share_of(r) for r in drifted),
    }


def summarise(results: dict[str, Any], share_threshold: float | None = None) -> dict[str, Any]:
    from pipelines.core.settings import Settings

    threshold = Settings().drift_share_threshold if share_threshold is None else share_threshold
    from monitoring.drift_tests import NOISE_MULTIPLE

    healthy, drifted = results["healthy"], results["drifted"]
    columns = sorted({c for run in healthy + drifted for c in run["scores"]})
    return {
        "share_threshold": threshold,
        "noise_multiple": NOISE_MULTIPLE,
        "sensitivity": {f"{m:.1f}": rates(healthy, drifted, m, threshold) for m in (2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0)},
        "healthy_windows_at_most_1_column": sum(len(r["drifted"]) <= 1 for r in healthy) / len(healthy),
        "healthy_false_triggers": sum(r["share"] >= threshold for r in healthy) / len(healthy),
        "drifted_windows_triggering": sum(r["share"] >= threshold for r in drifted) / len(drifted),
        "healthy_drifted_columns_mean": float(np.mean([len(r["drifted"]) for r in healthy])),
        "drifted_share_min": min(r["share"] for r in drifted),
        "per_column_flag_rate": {
            c: {
                k: sum(c in r["drifted"] for r in runs) / len(runs)
                for k, runs in (("healthy", healthy), ("drifted", drifted))
            }
            for c in columns
        },  # fmt: skip
    }
