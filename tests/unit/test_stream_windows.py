"""The streamed views' windows: the same numbers in any arrival order, equal to their definition computed by
brute force, and the replay's rows stamped strictly after what they summarise."""

from __future__ import annotations

import random
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, Aggregate, ViewInputs
from pipelines.features.stream_windows import EntityWindows, WindowPlan, stream_view

MINUTE_US = 60_000_000
VIEW = stream_view(
    "card_velocity",
    "customer",
    "customer_id",
    [
        ("count_5m", Aggregate("count", timedelta(minutes=5)), "-"),
        ("sum_5m", Aggregate("sum", timedelta(minutes=5), "amount"), "-"),
        ("count_1h", Aggregate("count", timedelta(hours=1)), "-"),
        ("sum_1h", Aggregate("sum", timedelta(hours=1), "amount"), "-"),
        ("merchants_1h", Aggregate("distinct", timedelta(hours=1), "merchant_id"), "-"),
        ("gap", Aggregate("gap", timedelta(hours=1)), "-"),
    ],
    ttl=timedelta(days=7),
    description="-",
)
PLAN = WindowPlan.of(VIEW)


def brute_force(events: list[tuple[int, str, float, int]]) -> tuple[int | float, ...]:
    """The definition, read literally: windows (T - w, T] at the latest event T."""
    latest = max(t for t, *_ in events)

    def inside(width: int) -> list[tuple[int, str, float, int]]:
        return [e for e in events if latest - width < e[0] <= latest]

    five, hour = inside(5 * MINUTE_US), inside(60 * MINUTE_US)
    times = sorted(t for t, *_ in hour)
    gap = (latest - times[-2]) / 1e6 if len(times) > 1 else 3600.0
    micros = lambda rows: sum(round(a * 1_000_000) for _, _, a, _ in rows) / 1_000_000  # noqa: E731
    return (len(five), micros(five), len(hour), micros(hour), len({m for *_, m in hour}), gap)


def test_the_plan_reads_the_declared_columns_and_keeps_the_longest_window() -> None:
    assert PLAN.columns == ("amount", "merchant_id")
    assert PLAN.horizon_us == 60 * MINUTE_US
    assert VIEW.lookback == timedelta(hours=1) and VIEW.streamed
    assert [f.dtype for f in VIEW.features] == ["int64", "float64", "int64", "float64", "int64", "float64"]


@pytest.mark.parametrize("seed", range(5))
def test_any_arrival_order_with_redeliveries_gives_the_definition(seed: int) -> None:
    rng = random.Random(seed)
    events = []
    for index in range(120):  # three hours of a busy card, some at the same instant
        t = rng.randrange(0, 180 * MINUTE_US)
        if index and rng.random() < 0.1:
            t = events[-1][0]
        events.append((t, f"e{index}", round(rng.uniform(0.5, 500.0), 2) + 0.001 * rng.random(), rng.randrange(6)))
    arrivals = sorted(events)
    shuffled = arrivals[:]
    for i in range(len(shuffled) - 1):  # late arrivals: local swaps, as a landing racing the stream would make
        if rng.random() < 0.3:
            shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
    shuffled += rng.sample(arrivals, 30)  # redelivered after a restart
    windows = EntityWindows(PLAN)
    folded: list[tuple[int, str, float, int]] = []
    for t, event_id, amount, merchant in shuffled:
        windows.add(t, event_id, PLAN.event_values({"amount": amount, "merchant_id": merchant}))
        if event_id not in {e[1] for e in folded}:
            folded.append((t, event_id, amount, merchant))
        # what may still matter: events inside the horizon of the latest seen
        latest = max(e[0] for e in folded)
        relevant = [e for e in folded if e[0] > latest - PLAN.horizon_us]
        assert windows.values() == brute_force(relevant)
    in_order = EntityWindows(PLAN)
    for t, event_id, amount, merchant in arrivals:
        in_order.add(t, event_id, PLAN.event_values({"amount": amount, "merchant_id": merchant}))
    assert in_order.values() == windows.values()  # exactly: integer millionths do not depend on the order


def test_an_event_beyond_the_horizon_or_seen_before_changes_nothing() -> None:
    windows = EntityWindows(PLAN)
    assert windows.add(120 * MINUTE_US, "a", PLAN.event_values({"amount": 10.0, "merchant_id": 1}))
    before = windows.values()
    assert not windows.add(60 * MINUTE_US, "old", PLAN.event_values({"amount": 99.0, "merchant_id": 2}))
    assert not windows.add(120 * MINUTE_US, "a", PLAN.event_values({"amount": 10.0, "merchant_id": 1}))
    assert windows.values() == before == (1, 10.0, 1, 10.0, 1, 3600.0)
    assert windows.stamp_us == 120 * MINUTE_US + 1


def test_the_replay_stamps_each_instant_after_its_events_and_keeps_the_refresh_window() -> None:
    base = pd.Timestamp("2026-12-01T10:00:00Z")
    offsets = [0, 60, 60, 400, 3900]  # seconds; two at one instant
    events = pd.DataFrame(
        {
            EVENT_ID: [f"e{i}" for i in range(5)] + ["x0"],
            EVENT_TIMESTAMP: [base + pd.Timedelta(seconds=s) for s in offsets] + [base],
            "customer_id": [7, 7, 7, 7, 7, 8],
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0, 9.0],
            "merchant_id": [1, 1, 2, 3, 1, 1],
        }
    )
    computed_at = pd.Timestamp("2026-12-02T00:00:00Z")
    rows = VIEW.compute(ViewInputs(events, None, base, base + pd.Timedelta(hours=2), computed_at.to_pydatetime()))
    card = rows[rows["customer_id"] == 7].reset_index(drop=True)
    assert len(card) == 4  # one row per instant
    expected_stamps = [base + pd.Timedelta(seconds=s, microseconds=1) for s in (0, 60, 400, 3900)]
    assert card[EVENT_TIMESTAMP].tolist() == expected_stamps
    assert card["count_5m"].tolist() == [1, 3, 1, 1]
    assert card["sum_1h"].tolist() == [1.0, 6.0, 10.0, 9.0]  # at 3900 s: the event at 400 s (4.0) and its own (5.0)
    assert card["merchants_1h"].tolist() == [1, 2, 3, 2]
    assert card["gap"].tolist() == [3600.0, 0.0, 340.0, 3500.0]
    assert (rows[CREATED_TIMESTAMP] == computed_at).all()
    later = VIEW.compute(
        ViewInputs(events, None, base + pd.Timedelta(minutes=5), base + pd.Timedelta(hours=2), computed_at)
    )
    assert later[EVENT_TIMESTAMP].min() >= base + pd.Timedelta(minutes=5)
    assert np.array_equal(later["count_1h"].to_numpy(), card["count_1h"].to_numpy()[2:])


def _random_events(rng: np.random.Generator, count: int, repeat_ids: bool) -> pd.DataFrame:
    base = pd.Timestamp("2026-12-01T00:00:00Z")
    seconds = np.sort(rng.integers(0, 6 * 3600, count))  # six hours of events, ties included
    ids = [f"e{i}" for i in range(count)]
    if repeat_ids:  # a redelivered id far from its first copy, across where the refresh's window begins
        ids[-3] = ids[2]
    return pd.DataFrame(
        {
            EVENT_ID: ids,
            EVENT_TIMESTAMP: base + pd.to_timedelta(seconds, unit="s"),
            "customer_id": rng.integers(0, 6, count),
            "amount": rng.integers(1, 10_000, count) / 100,
            "merchant_id": rng.integers(0, 5, count),
        }
    )


@pytest.mark.parametrize(("seed", "repeat_ids"), [(1, False), (2, False), (3, True)])
def test_a_refresh_window_replays_only_the_events_its_rows_can_see_and_gets_the_same_rows(
    seed: int, repeat_ids: bool
) -> None:
    """Rows stamped from `start` on summarise the hour before them: the replay leaves older events out, and its
    rows are those of a replay over every event (with a repeated id it replays every event)."""
    events = _random_events(np.random.default_rng(seed), 600, repeat_ids)
    start = pd.Timestamp("2026-12-01T04:00:00Z") + pd.Timedelta(seconds=int(seed * 37))
    end, computed_at = start + pd.Timedelta(hours=3), pd.Timestamp("2026-12-02T00:00:00Z")
    windowed = VIEW.compute(ViewInputs(events, None, start, end, computed_at))
    everything = VIEW.compute(ViewInputs(events, None, pd.Timestamp(0, tz="UTC"), end, computed_at))
    expected = everything[everything[EVENT_TIMESTAMP] >= start].reset_index(drop=True)
    pd.testing.assert_frame_equal(windowed, expected)
    assert len(expected) > 100
    replayed = VIEW.compute.events_for(events, start)  # type: ignore[attr-defined]
    assert len(replayed) == (
        len(events) if repeat_ids else (events[EVENT_TIMESTAMP] >= start - pd.Timedelta(hours=1)).sum()
    )
