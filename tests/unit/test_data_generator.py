"""The generator: deterministic, within the contract, fraud that is learnable, drift that shows."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pipelines.data_contract import validate_raw_data
from pipelines.data_generator import GeneratorConfig, generate, write_raw_data

END = datetime(2026, 11, 1, tzinfo=UTC)


def _small(**overrides: object) -> GeneratorConfig:
    return GeneratorConfig(**{"end": END, "days": 10, "customers": 200, "merchants": 30, **overrides})  # type: ignore[arg-type]


def test_same_config_gives_identical_frames_and_another_seed_does_not() -> None:
    events, labels = generate(_small())
    again_events, again_labels = generate(_small())
    pd.testing.assert_frame_equal(events, again_events)
    pd.testing.assert_frame_equal(labels, again_labels)
    other, _ = generate(_small(seed=43))
    assert not events[["amount"]].head(100).equals(other[["amount"]].head(100))


def test_generated_data_meets_the_contract_and_labels_arrive_late() -> None:
    events, labels = generate(_small())
    report = validate_raw_data(events, labels, as_of=END)
    assert report.passed, report.summary()
    assert events["event_timestamp"].max() < pd.Timestamp(END)
    assert labels["label_timestamp"].max() < pd.Timestamp(END)
    joined = labels.merge(events, on="event_id")
    delay = joined["label_timestamp"] - joined["event_timestamp"]
    assert delay.min() >= pd.Timedelta(days=1) and delay.max() <= pd.Timedelta(days=7)
    assert len(labels) < len(events), "the newest transactions have no label yet"
    assert 0.01 < labels["is_fraud"].mean() < 0.04


def test_fraud_is_online_and_large_before_drift_and_changes_pattern_after() -> None:
    events, labels = generate(_small(days=20, drift_start_day=10))
    frame = events.merge(labels, on="event_id")
    before = frame[frame["event_timestamp"] < pd.Timestamp(END) - pd.Timedelta(days=10)]
    after = frame[frame["event_timestamp"] >= pd.Timestamp(END) - pd.Timedelta(days=10)]
    fraud_before = before[before["is_fraud"] == 1]
    assert (fraud_before["channel"] == "online").mean() > 0.7
    assert fraud_before["amount"].median() > 2 * before[before["is_fraud"] == 0]["amount"].median()
    assert (after[after["is_fraud"] == 1]["channel"] == "contactless").mean() > 0.9
    assert after["amount"].median() > 1.4 * before["amount"].median()


def test_invalid_configs_are_refused_and_write_leaves_a_manifest(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="timezone"):
        GeneratorConfig(end=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="drift_start_day"):
        _small(drift_start_day=10)
    config = _small()
    paths = write_raw_data(*generate(config), tmp_path, config)
    assert '"seed": 42' in paths["manifest"].read_text()
    assert len(pd.read_parquet(paths["events"])) > 1000
