"""Estimates held to the realised values once their answers' labels are in, and only then."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from monitoring.reconciliation import reconcile
from pipelines.core.use_case import EVENT_ID
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, PREDICTION, ROLE, SERVED
from use_cases.fraud import USE_CASE as FRAUD

START = pd.Timestamp("2026-12-01T10:00", tz="UTC")


def served(rows: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        LOGGED_AT: [START + pd.Timedelta(minutes=i) for i in range(rows)], ROLE: SERVED, MODEL_VERSION: "3",
        EVENT_ID: [f"e{i}" for i in range(rows)], PREDICTION: rng.random(rows), "amount": np.full(rows, 10.0),
    })  # fmt: skip


def decision(low: float, high: float) -> dict[str, object]:
    estimate = {"value": (low + high) / 2, "low": low, "high": high}
    return {"model_version": "3", "estimate": {
        "start": START.isoformat(), "end": (START + pd.Timedelta(hours=1)).isoformat(), "budget": 5,
        "arrived_share": 0.1, "estimates": {"roc_auc": estimate},
    }}  # fmt: skip


def test_an_estimate_is_reconciled_once_its_labels_are_in_with_the_error_and_whether_it_held() -> None:
    log = served()
    labels = pd.DataFrame({EVENT_ID: log[EVENT_ID], FRAUD.label.name: (log[PREDICTION] > 0.7).astype(int)})
    rows = reconcile([decision(0.9, 1.0), decision(0.9, 1.0)], log, labels, FRAUD)
    assert len(rows) == 1, "the same answers' estimate is reconciled once"
    row = rows.iloc[0]
    assert row["realised"] == 1.0 and bool(row["covered"]) and row["error"] == pytest.approx(-0.05)
    missed = reconcile([decision(0.5, 0.6)], log, labels, FRAUD).iloc[0]
    assert not missed["covered"] and missed["error"] == pytest.approx(-0.45)


def test_an_estimate_whose_labels_are_still_coming_waits() -> None:
    log = served()
    labels = pd.DataFrame({EVENT_ID: log[EVENT_ID][:30], FRAUD.label.name: 0})  # 75% in
    assert reconcile([decision(0.4, 0.6)], log, labels, FRAUD).empty
    assert reconcile([{"model_version": "3", "estimate": None}], log, labels, FRAUD).empty
