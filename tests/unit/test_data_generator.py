"""The generator: deterministic, within the contract, two feeds that never overlap, late labels, drift that shows.

How hard the fraud is to learn (a first model's holdout AUC) is measured outside the unit tests: it needs
the feature pipeline and a model, too slow here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.use_case import Batch
from pipelines.data.contract import validate_raw_data
from pipelines.data.raw_data import write_raw_data
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate, generate_feeds
from use_cases.fraud.schema import EVENT_COLUMNS, LABEL_COLUMNS

END = datetime(2026, 11, 1, tzinfo=UTC)
DRIFT_DAY = 5


def _small(**overrides: object) -> FraudConfig:
    return FraudConfig(**{"end": END, "days": 10, "size": 200, "merchants": 30, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def drifted_world() -> tuple[FraudConfig, Batch, Batch]:
    config = _small(drift_start_day=DRIFT_DAY)
    feeds = generate_feeds(config)
    return config, feeds.base, feeds.drifted


def _assert_batches_equal(one: Batch, other: Batch) -> None:
    pd.testing.assert_frame_equal(one.events, other.events)
    pd.testing.assert_frame_equal(one.labels, other.labels)


def _with_labels(batch: Batch) -> pd.DataFrame:
    return batch.events.merge(batch.labels, on="event_id", validate="one_to_one")


def test_same_config_gives_identical_feeds_and_another_seed_does_not(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    again = generate_feeds(config)
    _assert_batches_equal(again.base, base)
    _assert_batches_equal(again.drifted, drifted)
    other = generate_feeds(_small(drift_start_day=DRIFT_DAY, seed=43))
    assert not base.events["amount"].head(100).equals(other.base.events["amount"].head(100))
    assert other.base.events["event_id"].str.startswith("txn-43-").all()


def test_feeds_keep_the_contract_columns_sorted_by_time_with_one_label_per_event(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    _, base, drifted = drifted_world
    for batch in (base, drifted):
        assert batch.events.dtypes.astype(str).to_dict() == EVENT_COLUMNS
        assert batch.labels.dtypes.astype(str).to_dict() == LABEL_COLUMNS
        assert batch.events["event_timestamp"].is_monotonic_increasing
        assert batch.events["event_timestamp"].max() < pd.Timestamp(END)
        assert batch.labels["event_id"].tolist() == batch.events["event_id"].tolist()
    assert base.events["event_id"].str.fullmatch(r"txn-42-(\d{8}|c\d{7})").all(), "card testing: txn-42-c..."
    assert drifted.events["event_id"].str.fullmatch(r"txn-42-d\d{7}").all()
    both = pd.concat([base.events["event_id"], drifted.events["event_id"]])
    assert both.is_unique


def test_the_base_feed_does_not_depend_on_the_drift_settings(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    _, base, _ = drifted_world
    _assert_batches_equal(generate_feeds(_small()).base, base)
    _assert_batches_equal(generate_feeds(_small(drift_start_day=2, drift_strength=2.5)).base, base)


def test_without_drift_start_day_the_drifted_feed_is_empty_but_well_typed() -> None:
    drifted = generate_feeds(_small(drift_strength=3.0)).drifted
    assert len(drifted.events) == 0 and len(drifted.labels) == 0
    assert drifted.events.dtypes.astype(str).to_dict() == EVENT_COLUMNS
    assert drifted.labels.dtypes.astype(str).to_dict() == LABEL_COLUMNS
    assert len(generate_feeds(_small(drift_start_day=DRIFT_DAY, drift_strength=0.0)).drifted.events) == 0


def test_labels_arrive_late_mostly_within_two_days_with_a_tail_to_the_maturity_window(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    _, base, drifted = drifted_world
    for batch in (base, drifted):
        frame = _with_labels(batch)
        days = (frame["label_timestamp"] - frame["event_timestamp"]).dt.total_seconds() / 86_400
        assert days.min() >= 1 / 24 and days.max() <= 7, "clipped to [1 hour, 7 days], the maturity window"
        assert 1 <= days.median() <= 2 and days.quantile(0.75) <= 3
        assert 0.05 < (days > 3).mean() < 0.3, "a tail past three days"
        # Chargebacks come a little later than settlement, not so much that arrival gives fraud away.
        fraud_median, legit_median = (days[frame["is_fraud"] == v].median() for v in (1, 0))
        assert legit_median < fraud_median < 1.6 * legit_median
        assert (batch.labels["label_timestamp"] >= pd.Timestamp(END)).any(), "labels still to come are included"


def test_generate_returns_both_feeds_and_only_the_labels_arrived_by_end(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    events, labels = generate(config)
    assert len(events) == len(base.events) + len(drifted.events)
    assert events["event_timestamp"].is_monotonic_increasing
    assert set(events["event_id"]) == set(base.events["event_id"]) | set(drifted.events["event_id"])
    every_label = pd.concat([base.labels, drifted.labels])
    arrived = every_label[every_label["label_timestamp"] < pd.Timestamp(END)]
    assert set(labels["event_id"]) == set(arrived["event_id"]) and len(labels) == len(arrived)
    assert len(labels) < len(events), "the newest transactions have no label yet"
    report = validate_raw_data(events, labels, FRAUD, as_of=END)
    assert report.passed, report.summary()


def test_base_fraud_leans_online_and_large_but_overlaps_with_legit_spending(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    _, base, _ = drifted_world
    frame = _with_labels(base)
    fraud, legit = frame[frame["is_fraud"] == 1], frame[frame["is_fraud"] == 0]
    assert 0.015 < len(fraud) / len(frame) < 0.03
    assert (fraud["channel"] == "online").mean() > 2 * (legit["channel"] == "online").mean()
    assert fraud["amount"].median() > 2 * legit["amount"].median()
    # ... but not every fraud stands out: some is online-free and of an ordinary amount.
    assert (fraud["channel"] != "online").mean() > 0.2
    assert (fraud["amount"] < legit["amount"].quantile(0.75)).mean() > 0.1
    assert (legit["amount"] > fraud["amount"].median()).mean() > 0.01, "legit big-ticket purchases exist"


def test_the_wallet_feed_is_extra_busier_bigger_contactless_traffic_with_a_new_fraud_pattern(
    drifted_world: tuple[FraudConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    assert config.drift_start is not None
    assert drifted.events["event_timestamp"].min() >= config.drift_start
    base_after = _with_labels(base)
    base_after = base_after[base_after["event_timestamp"] >= config.drift_start]
    wallet = _with_labels(drifted)
    assert len(wallet) > 0.5 * len(base_after)
    assert set(wallet["customer_id"]) <= set(range(config.size))
    assert set(wallet["merchant_id"]) <= set(range(config.merchants))
    wallet_legit, wallet_fraud = wallet[wallet["is_fraud"] == 0], wallet[wallet["is_fraud"] == 1]
    assert wallet_legit["amount"].median() > 1.4 * base_after[base_after["is_fraud"] == 0]["amount"].median()
    assert (wallet["channel"] == "contactless").mean() > 0.8
    assert (wallet_fraud["channel"] == "contactless").mean() > 0.9
    # The new fraud: ordinary amounts under the contactless limit, in bursts longer than the old ones.
    assert wallet_fraud["amount"].max() < 50 and wallet_fraud["amount"].median() < wallet_legit["amount"].median()
    per_victim = (frame[frame["is_fraud"] == 1]["customer_id"].value_counts().mean() for frame in (wallet, base_after))
    assert next(per_victim) > 1.5 * next(per_victim)
    stronger = generate_feeds(_small(drift_start_day=DRIFT_DAY, drift_strength=2.0)).drifted
    assert len(stronger.events) > 1.5 * len(drifted.events)


def test_invalid_configs_are_refused_and_write_leaves_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone"):
        FraudConfig(end=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="drift_start_day"):
        _small(drift_start_day=10)
    with pytest.raises(ValueError, match="drift_start_day"):
        _small(drift_start_day=-1)
    with pytest.raises(ValueError, match="drift_strength"):
        _small(drift_strength=-0.5)
    with pytest.raises(ValueError, match="fraud_rate"):
        _small(fraud_rate=0.0)
    with pytest.raises(ValueError, match="days"):
        _small(days=0)
    config = _small(days=3, size=50)
    paths = write_raw_data(*generate(config), tmp_path, config)
    assert '"seed": 42' in paths["manifest"].read_text()
    assert len(pd.read_parquet(paths["events"])) > 100
