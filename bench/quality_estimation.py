"""Estimated quality against realised quality, over seeded fraud worlds: does the interval hold the truth, does a
harmless shift stay quiet, and how early is the wallet partner's harm reported?

A world is the demo's (500 customers, 80 merchants) over 40 days, the wallet partner joining on day 30. v1 is
trained the pipeline's way on the card network's history before the partner (features from the platform's
definitions joined point-in-time, labels matured, a 5-day holdout), and its holdout is its calibration sample
and its reference, as a registered version's are. The labels' arrival curves are fitted at the partner's start
on the history's events (labelled and still waiting). Served cohorts are scored with the features the online
store holds at each transaction's hour.

- Healthy: each calendar day of the card network's traffic after day 30, estimated 6 hours after the day ended
  (about a sixth of its labels in), against the day's realised metrics once every label arrived.
- Harmless shift: the same days, resampled towards big amounts and online payments (60% of each day's
  transactions, drawn with weights amount x 3 for online): the inputs move, fraud given the inputs does not.
  Each goes through the real drift check's report against v1's reference and the retraining policy.
- Harmful drift: everything served since the partner joined, estimated every hour; the estimate reports
  harm when its interval lies below v1's holdout ROC AUC. Realised quality "shows it" when the ROC AUC over the
  arrived labels (with at least 10 positives in, the gate's bar for judging an AUC) is below the reference
  with the same confidence, its interval from resampling the arrived rows: the same bar of evidence. The
  timeline also notes when its point value first dipped below (no interval: it would cry wolf on healthy
  traffic too) and when half the labels were in.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from bench.fraud_world import HOLDOUT_DAYS, as_of, feature_tables
from monitoring.calibration import Calibration, fit_calibration
from monitoring.estimated_quality import ArrivalOdds, CohortRows, estimate_cohort, realised_metrics
from monitoring.label_delay import HOUR_S, DelayModel, fit_delay_model
from monitoring.policy import HarmSignal, PolicyInputs, RetrainPolicy, decide
from pipelines.core.settings import Settings
from use_cases.fraud import USE_CASE as FRAUD

logger = logging.getLogger(__name__)

END = datetime(2026, 11, 1, tzinfo=UTC)
DAYS, DRIFT_DAY, MATURITY_DAYS = 40, 30, 7
BUDGET = int(FRAUD.metric.alert_budget)  # type: ignore[arg-type]  # fraud declares a count
DRAWS, RESAMPLES = 200, 40
CONFIDENCE = Settings.model_fields["estimate_confidence"].default  # the platform's
HEALTHY_DELAY_H = 6  # a healthy day is estimated this long after it ended
HARMLESS_KEEP, ONLINE_WEIGHT = 0.6, 3.0
DRIFT_STEP_H, DRIFT_HORIZON_H = 1, 120
MIN_POSITIVES_TO_JUDGE = 10


@dataclass
class FraudWorld:
    """One seeded world: v1, its calibration and reference, the arrival curves, and features for both feeds."""

    seed: int
    start: pd.Timestamp  # the wallet partner's first day
    model: Any
    calibration: Calibration
    reference: dict[str, float]
    delay: DelayModel
    reference_sample: pd.DataFrame
    events: dict[str, pd.DataFrame]  # "healthy": the card network's; "drifted": both feeds
    labels: dict[str, pd.DataFrame]
    tables: dict[str, dict[str, pd.DataFrame]]


def build_world(seed: int) -> FraudWorld:
    from pipelines.features.training_set import labelled_events
    from pipelines.training.evaluate import split_by_time
    from pipelines.training.train import train_model
    from use_cases.fraud.generator import FraudConfig, generate_feeds
    from use_cases.fraud.model import FEATURE_DEFAULT, TrainParams, fraud_scores
    from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS, MODEL_INPUT_COLUMNS

    config = FraudConfig(end=END, seed=seed, days=DAYS, size=500, merchants=80, drift_start_day=DRIFT_DAY)
    feeds = generate_feeds(config)
    start = pd.Timestamp(config.drift_start)
    base = feeds.base
    history = base.events[base.events["event_timestamp"] < start]
    known = base.labels[base.labels["label_timestamp"] < start]
    labelled = labelled_events(history, known, MATURITY_DAYS, FRAUD)
    training = as_of(labelled, feature_tables(history, known, start.to_pydatetime()), labelled["event_timestamp"])
    train_rows, holdout = split_by_time(training, HOLDOUT_DAYS)
    model = train_model(train_rows, FRAUD, TrainParams(), seed)
    scores, truth = fraud_scores(model, holdout), holdout["is_fraud"].to_numpy()
    reference = realised_metrics(truth, scores, holdout["event_timestamp"].dt.floor("D").to_numpy(), BUDGET)
    recent = train_rows[train_rows["event_timestamp"] >= train_rows["event_timestamp"].max() - timedelta(days=7)]
    sample = recent.sample(n=min(5000, len(recent)), random_state=seed)[list(MODEL_INPUT_COLUMNS)]
    sample = sample.fillna({c: FEATURE_DEFAULT for c in FEATURE_VIEW_COLUMNS})
    sample = sample.assign(prediction=fraud_scores(model, sample)).reset_index(drop=True)
    both = pd.concat([base.events, feeds.drifted.events], ignore_index=True).sort_values("event_timestamp")
    all_labels = pd.concat([base.labels, feeds.drifted.labels], ignore_index=True)
    end = pd.Timestamp(END)
    return FraudWorld(
        seed=seed, start=start, model=model, calibration=fit_calibration(scores, truth, RESAMPLES, seed),
        reference=reference, delay=_delay_at(history, base.labels, start), reference_sample=sample,
        events={"healthy": base.events, "drifted": both},
        labels={"healthy": base.labels.set_index("event_id"), "drifted": all_labels.set_index("event_id")},
        tables={
            "healthy": feature_tables(base.events, base.labels[base.labels["label_timestamp"] < end], END),
            "drifted": feature_tables(both, all_labels[all_labels["label_timestamp"] < end], END),
        },
    )  # fmt: skip


def _delay_at(events: pd.DataFrame, labels: pd.DataFrame, now: pd.Timestamp) -> DelayModel:
    """The arrival curves as the quality job fits them at `now`: every event, its label's delay if it is in."""
    joined = events[["event_id", "event_timestamp"]].merge(labels, on="event_id")
    arrived = (joined["label_timestamp"] < now).to_numpy()
    delay = (joined["label_timestamp"] - joined["event_timestamp"]).dt.total_seconds().to_numpy() / HOUR_S
    ages = (now - joined["event_timestamp"]).dt.total_seconds().to_numpy() / HOUR_S
    return fit_delay_model(ages, np.where(arrived, delay, np.nan), np.where(arrived, joined["is_fraud"], np.nan))


def _served(world: FraudWorld, feed: str, events: pd.DataFrame) -> pd.DataFrame:
    """The transactions as served: features as of their hour, v1's score, and their label (and its time)."""
    from use_cases.fraud.model import FEATURE_DEFAULT, fraud_scores
    from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS, MODEL_INPUT_COLUMNS

    frame = as_of(events, world.tables[feed], events["event_timestamp"].dt.floor("h"))
    frame = frame.fillna({c: FEATURE_DEFAULT for c in FEATURE_VIEW_COLUMNS})
    frame = frame.join(world.labels[feed][["is_fraud", "label_timestamp"]], on="event_id")
    return frame.assign(score=fraud_scores(world.model, frame[list(MODEL_INPUT_COLUMNS)]))


def _at(world: FraudWorld, served: pd.DataFrame, now: pd.Timestamp) -> tuple[CohortRows, ArrivalOdds]:
    ages = (now - served["event_timestamp"]).dt.total_seconds().to_numpy() / HOUR_S
    arrived = (served["label_timestamp"] <= now).to_numpy()
    rows = CohortRows(
        served["score"].to_numpy(), ages, np.where(arrived, served["is_fraud"].to_numpy(float), np.nan),
        served["event_timestamp"].dt.floor("D").to_numpy(), served["amount"].to_numpy(float),
    )  # fmt: skip
    odds = ArrivalOdds(world.delay.per_class[1].arrived_within(ages), world.delay.per_class[0].arrived_within(ages))
    return rows, odds


def _estimate(world: FraudWorld, served: pd.DataFrame, now: pd.Timestamp, seed: int) -> tuple[dict[str, Any], float]:
    rows, odds = _at(world, served, now)
    return estimate_cohort(rows, world.calibration, odds, BUDGET, DRAWS, CONFIDENCE, seed), rows.arrived_share


def _day(world: FraudWorld, day: int) -> tuple[pd.DataFrame, pd.Timestamp]:
    start = world.start + pd.Timedelta(days=day)
    events = world.events["healthy"]
    return events[(events["event_timestamp"] >= start) & (events["event_timestamp"] < start + pd.Timedelta(days=1))], (
        start + pd.Timedelta(days=1)
    )


def harmless_shift(events: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A day's transactions resampled towards big amounts and online payments: a covariate shift only (each kept
    transaction keeps its features and its label, so fraud given the features is unchanged)."""
    weights = events["amount"].to_numpy() * np.where(events["channel"].to_numpy() == "online", ONLINE_WEIGHT, 1.0)
    keep = rng.choice(len(events), size=int(len(events) * HARMLESS_KEEP), replace=False, p=weights / weights.sum())
    return events.iloc[np.sort(keep)]


def _window_record(world: FraudWorld, served: pd.DataFrame, now: pd.Timestamp, seed: int) -> dict[str, Any]:
    estimates, arrived = _estimate(world, served, now, seed)
    realised = realised_metrics(
        served["is_fraud"].to_numpy(), served["score"].to_numpy(), served["event_timestamp"].dt.floor("D").to_numpy(),
        BUDGET, served["amount"].to_numpy(float),
    )  # fmt: skip
    return {
        "rows": len(served),
        "arrived_share": round(arrived, 4),
        "metrics": {
            name: {**estimate.as_dict(), "realised": realised[name], "covered": estimate.covers(realised[name])}
            for name, estimate in estimates.items()
        },
    }


def _harmless_decision(world: FraudWorld, served: pd.DataFrame, record: dict[str, Any], index: int) -> dict[str, Any]:
    """The real drift report on the shifted day against v1's reference, and the policy's decision with the
    estimate."""
    from monitoring.drift import MonitoredColumns, run_drift_report
    from use_cases.fraud.schema import MODEL_INPUT_COLUMNS

    current = served[list(MODEL_INPUT_COLUMNS)].assign(prediction=served["score"].to_numpy())
    drift = run_drift_report(world.reference_sample, current.reset_index(drop=True), MonitoredColumns.of(FRAUD))
    auc = record["metrics"]["roc_auc"]
    harm = HarmSignal("roc_auc", auc["value"], auc["low"], auc["high"], world.reference["roc_auc"], True,
                      record["arrived_share"])  # fmt: skip
    policy = RetrainPolicy(drift_share_threshold=0.5, min_rows=200, cooldown=timedelta(minutes=30))
    inputs = PolicyInputs(f"harmless-{world.seed}-{index}", drift.drift_share, len(served), datetime.now(UTC), None,
                          None, frozenset(), harm)  # fmt: skip
    decision = decide(policy, inputs)
    return {"drift_share": round(drift.drift_share, 3), "action": decision.action, "reason": decision.reason}


def _realised_upper_bound(arrived: pd.DataFrame, seed: int, resamples: int = 200) -> float:
    """The upper bound of the interval (the estimate's confidence) of ROC AUC over the arrived labels, by
    resampling them: realised quality held to the same bar of evidence as the estimate."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    labels, scores = arrived["is_fraud"].to_numpy(), arrived["score"].to_numpy()
    values = []
    for _ in range(resamples):
        pick = rng.integers(0, len(labels), len(labels))
        if 0 < labels[pick].sum() < len(pick):
            values.append(roc_auc_score(labels[pick], scores[pick]))
    return float(np.quantile(values, 1 - (1 - CONFIDENCE) / 2)) if values else float("nan")


def _drift_timeline(world: FraudWorld) -> dict[str, Any]:
    """The partner's traffic since it joined, estimated every few hours until harm shows and realised shows it."""
    events = world.events["drifted"]
    horizon = world.start + pd.Timedelta(hours=DRIFT_HORIZON_H)
    served_all = _served(world, "drifted", events[(events["event_timestamp"] >= world.start) &
                                                 (events["event_timestamp"] < horizon)])  # fmt: skip
    reference = world.reference["roc_auc"]
    estimated_at = realised_at = naive_at = half_in_at = None
    steps = []
    for hours in range(DRIFT_STEP_H, DRIFT_HORIZON_H + 1, DRIFT_STEP_H):
        now = world.start + pd.Timedelta(hours=hours)
        served = served_all[served_all["event_timestamp"] < now]
        estimates, arrived = _estimate(world, served, now, hours)
        auc = estimates.get("roc_auc")
        inside = served[(served["label_timestamp"] <= now)]
        positives = int(inside["is_fraud"].sum())
        realised_in = (
            realised_metrics(inside["is_fraud"].to_numpy(), inside["score"].to_numpy(), np.zeros(len(inside)), BUDGET)[
                "roc_auc"
            ]
            if positives >= MIN_POSITIVES_TO_JUDGE and positives < len(inside)
            else float("nan")
        )
        realised_high = (
            _realised_upper_bound(inside, hours) if realised_at is None and realised_in < reference else float("nan")
        )
        step = {"hours": hours, "rows": len(served), "arrived_share": round(arrived, 4), "positives_in": positives,
                "estimate": auc.as_dict() if auc else None, "realised_over_arrived": realised_in,
                "realised_over_arrived_high": realised_high}  # fmt: skip
        steps.append(step)
        if estimated_at is None and auc is not None and auc.high < reference:
            estimated_at = step
        if realised_at is None and realised_in < reference and naive_at is None:
            naive_at = step
        if realised_at is None and realised_high < reference:
            realised_at = step
        if half_in_at is None and arrived >= 0.5:
            half_in_at = step
        if estimated_at and realised_at and half_in_at:
            break
    final = realised_metrics(served_all["is_fraud"].to_numpy(), served_all["score"].to_numpy(),
                             np.zeros(len(served_all)), BUDGET)["roc_auc"]  # fmt: skip
    return {
        "reference_roc_auc": reference,
        "realised_roc_auc_all_labels": final,
        "estimated_at": estimated_at,
        "realised_at": realised_at,
        "naive_at_hours": naive_at["hours"] if naive_at else None,
        "half_in_at_hours": half_in_at["hours"] if half_in_at else None,
        "hours_gained": (realised_at["hours"] - estimated_at["hours"]) if estimated_at and realised_at else None,
        "steps": steps,
    }


def run_quality_estimation_bench(healthy_seeds: tuple[int, ...] = (42, 43), drift_seeds: int = 5) -> dict[str, Any]:
    """Coverage on 10 healthy and 10 harmlessly shifted days per healthy seed, the decisions on the shifted
    ones, and the harmful drift's timeline per drift seed."""
    started = time.perf_counter()
    results: dict[str, Any] = {"budget": BUDGET, "confidence": CONFIDENCE, "healthy": [], "harmless": [], "drift": []}
    seeds = sorted(set(healthy_seeds) | set(range(42, 42 + drift_seeds)))
    for seed in seeds:
        world = build_world(seed)
        logger.info("world %d: v1 holdout ROC AUC %.3f", seed, world.reference["roc_auc"])
        if seed in healthy_seeds:
            rng = np.random.default_rng(seed)
            for day in range(DAYS - DRIFT_DAY):
                events, ended = _day(world, day)
                now = ended + pd.Timedelta(hours=HEALTHY_DELAY_H)
                healthy = _served(world, "healthy", events)
                results["healthy"].append({"seed": seed, "day": day, **_window_record(world, healthy, now, day)})
                shifted = _served(world, "healthy", harmless_shift(events, rng))
                record = _window_record(world, shifted, now, day)
                record |= _harmless_decision(world, shifted, record, day)
                results["harmless"].append({"seed": seed, "day": day, **record})
        if seed < 42 + drift_seeds:
            results["drift"].append({"seed": seed, **_drift_timeline(world)})
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["summary"] = summarise(results)
    return results


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    def coverage(windows: list[dict[str, Any]], metric: str) -> float:
        return float(np.mean([w["metrics"][metric]["covered"] for w in windows]))

    drift = results["drift"]
    detected = [d for d in drift if d["estimated_at"]]
    return {
        "windows": len(results["healthy"]),
        "healthy_coverage": {m: coverage(results["healthy"], m) for m in ("roc_auc", "precision_at_budget")},
        "harmless_coverage": {m: coverage(results["harmless"], m) for m in ("roc_auc", "precision_at_budget")},
        "healthy_arrived_share_mean": float(np.mean([w["arrived_share"] for w in results["healthy"]])),
        "harmless_drifted_windows": sum(w["drift_share"] >= 0.5 for w in results["harmless"]),
        "harmless_retrains": sum(w["action"] == "trigger" for w in results["harmless"]),
        "drift_detected": f"{len(detected)}/{len(drift)}",
        "drift_detected_at_arrived_share_max": max(
            (d["estimated_at"]["arrived_share"] for d in detected), default=None
        ),
        "drift_detected_at_hours": [d["estimated_at"]["hours"] for d in detected],
        "drift_realised_at_hours": [d["realised_at"]["hours"] if d["realised_at"] else None for d in drift],
        "drift_naive_realised_at_hours": [d["naive_at_hours"] for d in drift],
        "drift_hours_gained": [d["hours_gained"] for d in drift],
        "drift_half_labels_in_at_hours": [d["half_in_at_hours"] for d in drift],
    }


if __name__ == "__main__":
    import json
    import sys

    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    outcome = run_quality_estimation_bench()
    print(json.dumps(outcome["summary"], indent=2))  # noqa: T201 - the module's output when run alone
