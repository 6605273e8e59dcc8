"""Card testing in the fraud world: small tests then large payments on one card within minutes, legit runs of
small payments beside them, drawn from a stream of their own so the rest of the world is what it was.

How much the streamed views catch of it is measured by `bench/streaming_lift.py`: it needs models.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.core.use_case import Batch
from use_cases.fraud.generator import (
    CARD_TEST_AMOUNT,
    FraudConfig,
    card_testing_bursts,
    generate_feeds,
)

END = datetime(2026, 11, 1, tzinfo=UTC)
MINUTE = pd.Timedelta(minutes=1)
# The feeds of commit d14aace (before card testing) for two configs, by `_fingerprint`: what must not move.
PARENT_FEEDS = [
    (
        {"seed": 42, "days": 10, "size": 200, "merchants": 30, "drift_start_day": 5},
        ("c753d465f8d950d1", "b0e85b1d9a13b2d2", "1985454eef210e0b", "5f59af291e29d413"),
    ),
    (
        {"seed": 5, "days": 12, "size": 60, "merchants": 15, "drift_start_day": 6, "drift_strength": 2.0},
        ("d9227f01cfe80e99", "07f666856e903994", "c7e6d83011b7b0af", "456b720e0784b4c1"),
    ),
]


def _fingerprint(frame: pd.DataFrame) -> str:
    """A digest of a frame's column names and values that does not depend on pandas' own hashing."""
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(name.encode())
        if str(column.dtype) == "string":
            digest.update("\n".join(column.astype(str)).encode())
        elif str(column.dtype).startswith("datetime64"):
            digest.update(column.dt.tz_convert("UTC").dt.as_unit("ns").astype("int64").to_numpy("<i8").tobytes())
        else:
            digest.update(column.to_numpy(np.float64 if column.dtype.kind == "f" else np.int64).tobytes())
    return digest.hexdigest()[:16]


def _without_short_bursts(batch: Batch) -> Batch:
    kept = ~batch.events["event_id"].str.contains("-c").to_numpy()
    return Batch(batch.events[kept].reset_index(drop=True), batch.labels[kept].reset_index(drop=True))


@pytest.fixture(scope="module")
def world() -> Batch:
    """A month of 400 customers: about 35 card-testing bursts."""
    return generate_feeds(FraudConfig(end=END, days=30, size=400, merchants=40, seed=11)).base


@pytest.fixture(scope="module")
def bursts(world: Batch) -> pd.DataFrame:
    return card_testing_bursts(world.events, world.labels)


@pytest.mark.parametrize(("knobs", "expected"), PARENT_FEEDS)
def test_the_feeds_less_the_short_bursts_are_the_parent_commits_row_for_row(
    knobs: dict[str, Any], expected: tuple[str, ...]
) -> None:
    feeds = generate_feeds(FraudConfig(end=END, **knobs))
    base = _without_short_bursts(feeds.base)
    found = tuple(_fingerprint(f) for f in (base.events, base.labels, feeds.drifted.events, feeds.drifted.labels))
    assert found == expected
    assert len(base.events) < len(feeds.base.events), "the short bursts are in the base feed"


def test_bursts_are_small_tests_then_large_payments_on_one_card_within_minutes(
    world: Batch, bursts: pd.DataFrame
) -> None:
    assert 25 <= bursts["burst"].nunique() <= 50
    usual = world.events[~world.events["event_id"].isin(bursts["event_id"])].groupby("customer_id")["amount"].median()
    whole = 0
    for _, burst in bursts.groupby("burst"):
        assert burst["customer_id"].nunique() == 1
        tests, drains = burst[burst["stage"] == "test"], burst[burst["stage"] == "drain"]
        if burst["event_timestamp"].max() > pd.Timestamp(END) - 30 * MINUTE:
            continue  # may be cut by the world's end
        whole += 1
        assert 2 <= len(tests) <= 5 and 1 <= len(drains) <= 3
        first = tests["event_timestamp"].min()
        assert tests["event_timestamp"].max() - first <= 4 * MINUTE
        assert tests["event_timestamp"].max() < drains["event_timestamp"].min(), "tested first, then drained"
        assert 2 * MINUTE <= drains["event_timestamp"].min() - first <= 15 * MINUTE
        assert drains["event_timestamp"].max() - first <= 25 * MINUTE
        assert drains["amount"].min() > 2 * CARD_TEST_AMOUNT[1]
    assert whole >= 25
    tests, drains = bursts[bursts["stage"] == "test"], bursts[bursts["stage"] == "drain"]
    assert tests["amount"].between(*CARD_TEST_AMOUNT).all()
    assert (tests["channel"] == "online").mean() > 0.7, "mostly online"
    above = drains["amount"].to_numpy() > 2 * usual[drains["customer_id"]].to_numpy()
    assert above.mean() > 0.8, "drained well above the customer's usual"


def test_card_testing_is_its_knobs_share_of_the_fraud_and_keeps_the_fraud_rate_near_two_percent(
    world: Batch, bursts: pd.DataFrame
) -> None:
    fraud = world.labels["is_fraud"].sum()
    assert bursts["event_id"].str.fullmatch(r"txn-11-c\d{7}").all()
    assert len(bursts) / fraud == pytest.approx(0.2, abs=0.03)
    assert 0.018 < world.labels["is_fraud"].mean() < 0.028
    config = FraudConfig(end=END, days=30, size=400, merchants=40, seed=11)
    for rate, share in ((0.0, 0.0), (0.4, 0.4)):
        other = generate_feeds(replace(config, card_testing_rate=rate)).base
        found = card_testing_bursts(other.events, other.labels)
        assert len(found) / other.labels["is_fraud"].sum() == pytest.approx(share, abs=0.04)
        pd.testing.assert_frame_equal(_without_short_bursts(other).events, _without_short_bursts(world).events)
    with pytest.raises(ValueError, match="card_testing_rate"):
        FraudConfig(end=END, card_testing_rate=1.0)


def test_legit_runs_of_small_payments_outnumber_the_tests_so_small_in_a_row_is_no_proof(world: Batch) -> None:
    frame = world.events.merge(world.labels, on="event_id").sort_values(["customer_id", "event_timestamp"])
    small = frame["amount"] <= CARD_TEST_AMOUNT[1]
    previous_small = small.groupby(frame["customer_id"]).shift(1, fill_value=False)
    gap = frame.groupby("customer_id")["event_timestamp"].diff()
    in_a_row = small & previous_small & (gap <= 5 * MINUTE)
    legit_runs = frame[in_a_row & (frame["is_fraud"] == 0)]
    assert len(legit_runs) > 3 * (in_a_row & (frame["is_fraud"] == 1)).sum()
    assert legit_runs["event_id"].str.contains("-c").mean() > 0.9, "mostly the short-burst stream's"
    assert (legit_runs["channel"] != "online").mean() > 0.5, "transit taps and vending, mostly"


def test_short_bursts_are_deterministic_with_ids_unique_across_the_feeds() -> None:
    config = FraudConfig(end=END, days=10, size=150, merchants=20, seed=3, drift_start_day=4)
    one, other = generate_feeds(config), generate_feeds(config)
    pd.testing.assert_frame_equal(one.base.events, other.base.events)
    pd.testing.assert_frame_equal(one.base.labels, other.base.labels)
    assert one.base.events["event_timestamp"].is_monotonic_increasing
    assert one.base.labels["event_id"].tolist() == one.base.events["event_id"].tolist()
    assert pd.concat([one.base.events["event_id"], one.drifted.events["event_id"]]).is_unique
    assert one.base.events["event_id"].str.contains("-c").any()
