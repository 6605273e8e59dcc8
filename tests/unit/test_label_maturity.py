"""Each served cohort's label maturity and the arrival curves, from event-store-shaped frames: a cohort an hour
old has few of its labels, one a week old all of them, and the curves see the waiting events."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.label_delay import DelayModel
from monitoring.label_maturity import (
    cohort_maturity,
    delay_model_of,
    delay_summary,
    load_delay_summary,
    save_label_maturity,
)
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, UseCase
from pipelines.data.label_history import INGESTED_AT, KNOWN_AT, latest_labels, usable_times
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, ROLE, SERVED
from use_cases.delivery import USE_CASE as DELIVERY
from use_cases.fraud import USE_CASE as FRAUD

NOW = pd.Timestamp("2026-12-05 12:00", tz="UTC")


def _fit(event_times: pd.Series, records: pd.DataFrame, use_case: UseCase) -> DelayModel:
    """As the quality job fits: usable times first, the current labels from them."""
    usable = usable_times(records)
    return delay_model_of(event_times, usable, latest_labels(usable, use_case.label.name), use_case, NOW)


@pytest.fixture(scope="module")
def history() -> tuple[pd.Series, pd.DataFrame, pd.DataFrame]:
    """8 days of events each hour; labels 1-3 days late (positives faster), those due by NOW arrived; the last
    day's events were served by version 2 (the rest by version 1)."""
    rng = np.random.default_rng(2)
    hours = pd.date_range(NOW - pd.Timedelta(days=8), NOW - pd.Timedelta(hours=1), freq="h")
    times = pd.Series(np.repeat(hours, 30), name=EVENT_TIMESTAMP)
    ids = [f"e{i}" for i in range(len(times))]
    event_times = pd.Series(times.to_numpy(), index=pd.Index(ids, name=EVENT_ID), name=EVENT_TIMESTAMP)
    positive = rng.random(len(ids)) < 0.1
    delay = pd.to_timedelta(np.where(positive, 24, 60) * rng.uniform(0.8, 1.2, len(ids)), unit="h")
    arrives = times + delay
    due = (arrives <= NOW).to_numpy()
    records = pd.DataFrame({EVENT_ID: np.array(ids)[due], FRAUD.label.name: positive[due].astype(int),
                            LABEL_TIMESTAMP: arrives[due].to_numpy(), KNOWN_AT: arrives[due].to_numpy(),
                            INGESTED_AT: arrives[due].to_numpy()})  # fmt: skip
    log = pd.DataFrame({EVENT_ID: ids, ROLE: SERVED, LOGGED_AT: times.to_numpy(),
                        MODEL_VERSION: np.where(times >= NOW - pd.Timedelta(days=1), "2", "1")})  # fmt: skip
    return event_times, records, log


def test_young_cohorts_are_immature_and_old_ones_complete(
    history: tuple[pd.Series, pd.DataFrame, pd.DataFrame],
) -> None:
    event_times, records, log = history
    model = _fit(event_times, records, FRAUD)
    labels = records[[EVENT_ID, FRAUD.label.name, LABEL_TIMESTAMP]]
    maturity = cohort_maturity(log, labels, model, NOW)
    assert len(maturity) == 8 * 24 and set(maturity[MODEL_VERSION]) == {"1", "2"}
    newest, oldest = maturity.sort_values("hour").iloc[-1], maturity.sort_values("hour").iloc[0]
    assert newest["arrived_share"] == 0.0 and newest["expected_share"] < 0.05
    assert oldest["arrived_share"] == 1.0 and oldest["expected_share"] > 0.95
    # The curve expects what arrived, cohort by cohort (the same world made both).
    gap = (maturity["expected_share"] - maturity["arrived_share"]).abs()
    assert gap.mean() < 0.05, gap.describe()
    assert 20 < model.per_class[1].median_h < 28 and 50 < model.per_class[0].median_h < 70


def test_the_summary_and_files_say_what_the_curves_are(
    history: tuple[pd.Series, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    event_times, records, log = history
    model = _fit(event_times, records, FRAUD)
    summary = delay_summary(model)
    assert summary["events"] == len(event_times) and summary["arrived"] == len(records)
    assert set(summary["median_delay_h_by_class"]) == {"0", "1"} and 0.07 < summary["class_shares"]["1"] < 0.13
    save_label_maturity(tmp_path, model, cohort_maturity(log, records, model, NOW))
    assert (tmp_path / "label_maturity.csv").exists()
    assert load_delay_summary(tmp_path) == json.loads(json.dumps(summary))
    assert load_delay_summary(tmp_path / "elsewhere") is None


def test_a_regression_label_gets_one_curve_and_no_labels_mean_nothing_arrived(
    history: tuple[pd.Series, pd.DataFrame, pd.DataFrame],
) -> None:
    event_times, records, log = history
    minutes = records.rename(columns={FRAUD.label.name: DELIVERY.label.name}).astype({DELIVERY.label.name: float})
    model = _fit(event_times, minutes, DELIVERY)
    assert model.per_class == {} and 30 < model.overall.median_h < 70
    empty = records.iloc[:0]
    nothing = _fit(event_times, empty, FRAUD)
    assert nothing.arrived == 0 and nothing.expected_arrived(np.array([100.0])) == 0.0
    assert cohort_maturity(log.iloc[:0], empty, nothing, NOW).empty
