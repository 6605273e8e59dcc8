"""The delivery world: deterministic, typed, inside its bounds, two feeds that never overlap, drift that shows.

How learnable the minutes are (a first model's MAE, and how much worse it does after the drift than a model
retrained on both feeds) is measured outside the unit tests: it needs the features and a model, too slow here.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from pipelines.core.use_case import Batch
from use_cases.delivery.generator import (
    EVENT_COLUMNS,
    LABEL_COLUMNS,
    VEHICLES,
    DeliveryConfig,
    generate_feeds,
)

END = datetime(2026, 11, 1, tzinfo=UTC)
DRIFT_DAY = 3
SIZE, ZONES = 20, 8


def _small(**overrides: object) -> DeliveryConfig:
    return DeliveryConfig(**{"end": END, "days": 6, "size": SIZE, "zones": ZONES, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def drifted_world() -> tuple[DeliveryConfig, Batch, Batch]:
    config = _small(drift_start_day=DRIFT_DAY)
    feeds = generate_feeds(config)
    return config, feeds.base, feeds.drifted


def _assert_batches_equal(one: Batch, other: Batch) -> None:
    pd.testing.assert_frame_equal(one.events, other.events)
    pd.testing.assert_frame_equal(one.labels, other.labels)


def _with_labels(batch: Batch) -> pd.DataFrame:
    return batch.events.merge(batch.labels, on="event_id", validate="one_to_one")


def test_feeds_have_exactly_the_declared_columns_and_dtypes(
    drifted_world: tuple[DeliveryConfig, Batch, Batch],
) -> None:
    _, base, drifted = drifted_world
    empty = generate_feeds(_small()).drifted
    for batch in (base, drifted, empty):
        assert batch.events.dtypes.astype(str).to_dict() == EVENT_COLUMNS
        assert batch.labels.dtypes.astype(str).to_dict() == LABEL_COLUMNS


def test_values_stay_inside_their_bounds(drifted_world: tuple[DeliveryConfig, Batch, Batch]) -> None:
    _, base, drifted = drifted_world
    for batch in (base, drifted):
        events, minutes = batch.events, batch.labels["delivery_minutes"]
        assert events["distance_km"].gt(0).all() and events["distance_km"].le(50).all()
        assert events["basket_items"].between(1, 60).all()
        assert set(events["vehicle"]) <= set(VEHICLES)
        assert events["zone_id"].between(0, ZONES - 1).all()
        assert minutes.gt(0).all() and minutes.le(240).all()
        assert ((minutes * 10).round() == minutes * 10).all(), "rounded to a tenth of a minute"
        assert 25 <= minutes.mean() <= 80
    assert 25 <= base.labels["delivery_minutes"].mean() <= 40
    assert base.events["restaurant_id"].between(0, SIZE - 1).all()
    assert drifted.events["restaurant_id"].ge(SIZE).all(), "dark kitchens get new ids above the restaurants'"


def test_feeds_are_sorted_by_time_with_unique_ids_and_one_late_label_per_event(
    drifted_world: tuple[DeliveryConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    for batch in (base, drifted):
        times = batch.events["event_timestamp"]
        assert times.is_monotonic_increasing
        assert times.min() >= config.start and times.max() < pd.Timestamp(END)
        assert (times.dt.nanosecond == 0).all(), "microsecond precision"
        assert batch.labels["event_id"].tolist() == batch.events["event_id"].tolist()
        frame = _with_labels(batch)
        delay_minutes = (frame["label_timestamp"] - frame["event_timestamp"]).dt.total_seconds() / 60
        assert delay_minutes.min() >= 5 and delay_minutes.max() <= 24 * 60
        assert 30 <= delay_minutes.median() <= 90
        delivered = frame["event_timestamp"] + pd.to_timedelta(frame["delivery_minutes"], unit="min")
        assert (frame["label_timestamp"] >= delivered.dt.floor("us")).all(), "a label lands after the handover"
    assert base.events["event_id"].str.fullmatch(r"ord-42-\d{8}").all()
    assert drifted.events["event_id"].str.fullmatch(r"ord-42-d\d{7}").all()
    assert pd.concat([base.events["event_id"], drifted.events["event_id"]]).is_unique


def test_same_config_gives_identical_feeds_and_another_seed_does_not(
    drifted_world: tuple[DeliveryConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    again = generate_feeds(config)
    _assert_batches_equal(again.base, base)
    _assert_batches_equal(again.drifted, drifted)
    other = generate_feeds(_small(drift_start_day=DRIFT_DAY, seed=43)).base
    assert not other.events["distance_km"].head(100).equals(base.events["distance_km"].head(100))
    assert other.events["event_id"].str.startswith("ord-43-").all()


def test_the_base_feed_does_not_depend_on_the_drift_settings(
    drifted_world: tuple[DeliveryConfig, Batch, Batch],
) -> None:
    _, base, _ = drifted_world
    _assert_batches_equal(generate_feeds(_small()).base, base)
    _assert_batches_equal(generate_feeds(_small(drift_start_day=1, drift_strength=2.5)).base, base)
    _assert_batches_equal(generate_feeds(_small(drift_start_day=DRIFT_DAY, drift_strength=0.0)).base, base)


def test_no_drift_start_or_zero_strength_gives_an_empty_drifted_feed() -> None:
    for config in (_small(drift_strength=3.0), _small(drift_start_day=DRIFT_DAY, drift_strength=0.0)):
        drifted = generate_feeds(config).drifted
        assert len(drifted.events) == 0 and len(drifted.labels) == 0


def test_the_drifted_feed_starts_at_drift_start_with_extra_longer_rides_mostly_by_car(
    drifted_world: tuple[DeliveryConfig, Batch, Batch],
) -> None:
    config, base, drifted = drifted_world
    assert config.drift_start is not None
    assert drifted.events["event_timestamp"].min() >= config.drift_start
    after = _with_labels(base)
    after = after[after["event_timestamp"] >= config.drift_start]
    extra = _with_labels(drifted)
    assert 0.4 * len(after) < len(extra) < 1.5 * len(after)
    assert (extra["vehicle"] == "car").mean() > 2 * (after["vehicle"] == "car").mean()
    assert extra["distance_km"].median() > 1.15 * after["distance_km"].median()
    assert extra["delivery_minutes"].mean() > 1.25 * after["delivery_minutes"].mean()
    assert extra["zone_id"].nunique() <= max(1, round(0.25 * ZONES)), "only into the busiest zones"
    stronger = generate_feeds(_small(drift_start_day=DRIFT_DAY, drift_strength=2.0)).drifted
    assert len(stronger.events) > 1.5 * len(drifted.events)
    assert stronger.events["distance_km"].median() > extra["distance_km"].median()


def test_end_is_exclusive_even_off_midnight() -> None:
    end = datetime(2026, 11, 1, 13, 30, tzinfo=UTC)
    feeds = generate_feeds(DeliveryConfig(end=end, days=2, size=SIZE, zones=ZONES, drift_start_day=1))
    for batch in (feeds.base, feeds.drifted):
        times = batch.events["event_timestamp"]
        assert len(times) > 0
        assert times.max() < pd.Timestamp(end) and times.min() >= pd.Timestamp(end) - pd.Timedelta(days=2)
        assert times.max() > pd.Timestamp(end) - pd.Timedelta(hours=2), "the stream runs up to the end"


def test_a_demo_sized_world_is_about_as_busy_as_the_fraud_demos() -> None:
    feeds = generate_feeds(DeliveryConfig(end=END, drift_start_day=10))
    assert 20_000 <= len(feeds.base.events) <= 60_000


def test_invalid_configs_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DeliveryConfig(end=datetime(2026, 1, 1))
    for bad in ({"drift_start_day": 6}, {"drift_start_day": -1}):
        with pytest.raises(ValueError, match="drift_start_day"):
            _small(**bad)
    with pytest.raises(ValueError, match="drift_strength"):
        _small(drift_strength=-0.5)
    with pytest.raises(ValueError, match="zones"):
        _small(zones=1)
