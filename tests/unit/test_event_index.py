"""The event index on real parts: it answers what a read of the whole history would, after every kind of change
(landings, served answers, relabels, compaction), and a catch-up reads only the parts it has not read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.data.compaction import compact_event_store
from pipelines.data.event_index import EventIndex
from pipelines.data.event_store import RECORDED_AT, EventStore
from pipelines.data.keyed_runs import KeyedRuns
from pipelines.data.label_history import latest_labels, usable_times
from pipelines.data.landing import land_events, land_labels
from pipelines.data.prediction_log_format import partition_name
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate
from use_cases.fraud.schema import IS_FRAUD

NOW = pd.Timestamp(datetime.now(UTC).replace(minute=0, second=0, microsecond=0))


def test_keyed_runs_keep_the_winner_of_each_key_across_any_number_of_adds() -> None:
    rng = np.random.default_rng(7)
    runs = KeyedRuns(width=2, rank=1, keep="min")
    truth: dict[int, tuple[int, int]] = {}
    for _ in range(40):
        keys = rng.integers(0, 500, rng.integers(1, 30)).astype(np.uint64)
        payload = np.column_stack([rng.integers(0, 1000, len(keys)), rng.integers(0, 1000, len(keys))])
        runs.add(keys, payload)
        runs.add(keys, payload)  # the same rows again change nothing
        for key, row in zip(keys.tolist(), payload.tolist(), strict=True):
            if key not in truth or row[0] < truth[key][0]:
                truth[key] = (row[0], row[1])
    assert len(runs._runs) <= 10, "runs merge like a binary counter"
    asked = np.arange(0, 520, dtype=np.uint64)
    found, rows = runs.lookup(asked)
    assert found.tolist() == [int(key) in truth for key in asked]
    assert [tuple(row) for row in rows[found].tolist()] == [truth[int(key)][:2] for key in asked[found]]

    latest = KeyedRuns(width=2, rank=2, keep="max")
    latest.add(np.array([1, 1, 2], dtype=np.uint64), np.array([[5, 1], [5, 3], [2, 9]]))
    latest.add(np.array([1], dtype=np.uint64), np.array([[4, 99]]))
    assert latest.lookup(np.array([1, 2, 3], dtype=np.uint64))[1].tolist() == [[5, 3], [2, 9], [0, 0]]


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events", tmp_path / "predictions", FRAUD)


def _serve(store: EventStore, events: pd.DataFrame, logged_at: pd.Timestamp) -> None:
    """Answers as the prediction log publishes them (a served row per transaction, a shadow copy of one)."""
    rows = events.assign(logged_at=logged_at, role="served", model_version="1", prediction=0.1)
    rows = pd.concat([rows, rows.head(1).assign(role="shadow")], ignore_index=True)
    folder = store.prediction_log.local_path / partition_name(logged_at)
    folder.mkdir(parents=True, exist_ok=True)
    rows.to_parquet(folder / f"part-{logged_at.value}.parquet", index=False)


def _times_from_whole_events(store: EventStore) -> pd.Series:
    """Each event's time from whole records, landed and served (`event_times` reads only two columns)."""
    columns = [EVENT_ID, EVENT_TIMESTAMP, RECORDED_AT]
    frame = pd.concat([store.landed_events()[columns], store.served_events()[columns]], ignore_index=True)
    frame = frame.sort_values(RECORDED_AT, kind="stable").drop_duplicates(EVENT_ID, keep="first")
    return frame.set_index(EVENT_ID)[EVENT_TIMESTAMP]


def _assert_index_matches_history(index: EventIndex, store: EventStore, asked: pd.Series) -> None:
    index.catch_up()
    times = store.event_times()
    pd.testing.assert_series_equal(times, _times_from_whole_events(store))
    for read in (store.landed_events, store.served_events):
        narrow = read(columns=[EVENT_ID, EVENT_TIMESTAMP])
        pd.testing.assert_frame_equal(narrow, read()[[EVENT_ID, EVENT_TIMESTAMP, RECORDED_AT]])
    expected = times[times.index.isin(asked)]
    got = index.event_times(asked)
    assert dict(zip(got.index, got, strict=True)) == dict(zip(expected.index, expected, strict=True))
    current = latest_labels(usable_times(store.label_records()), IS_FRAUD).set_index(EVENT_ID)[IS_FRAUD]
    verdicts = index.current_verdicts(asked)
    assert [None if pd.isna(v) else int(v) for v in verdicts] == [
        int(current[i]) if i in current.index else None for i in asked
    ]
    records = store.label_records()
    recorded = records[[EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP]].assign(**{EVENT_ID: records[EVENT_ID].astype(str)})
    assert index.recorded(recorded).all()
    changed = recorded.assign(**{LABEL_TIMESTAMP: recorded[LABEL_TIMESTAMP] + timedelta(seconds=1)})
    assert not index.recorded(changed).any()


def test_the_index_answers_what_the_whole_history_says_after_every_kind_of_change(store: EventStore) -> None:
    events, labels = generate(FraudConfig(end=NOW.to_pydatetime(), seed=11, days=3, size=30, merchants=6))
    landed, served = events.iloc[: len(events) // 2], events.iloc[len(events) // 2 :]
    land_events(store, landed.iloc[::2], "lake.parquet", NOW)
    land_events(store, landed.iloc[1::2], "lake-2.parquet", NOW + timedelta(seconds=1))  # two parts a day
    _serve(store, served.head(40), NOW - timedelta(hours=2))
    _serve(store, served.iloc[40:60], NOW - timedelta(hours=2, minutes=-1))  # two parts in that hour
    _serve(store, landed.head(5), NOW - timedelta(hours=1))  # answered again later: the landing came first
    index = EventIndex(store)
    asked = pd.concat([events[EVENT_ID].sample(60, random_state=1), pd.Series(["nobody", "txn-none"])])
    asked = asked.astype(str).reset_index(drop=True)
    _assert_index_matches_history(index, store, asked)
    assert index.catch_up() == 0, "nothing new: nothing read"

    land_labels(store, labels[labels[EVENT_ID].isin(landed[EVENT_ID])], "history.parquet", NOW)
    flip = labels[labels[EVENT_ID].isin(landed[EVENT_ID])].head(3)
    flip = flip.assign(**{IS_FRAUD: 1 - flip[IS_FRAUD], LABEL_TIMESTAMP: NOW - timedelta(minutes=1)})
    land_labels(store, flip, "chargebacks.parquet", NOW + timedelta(minutes=1))
    assert index.catch_up() == 2, "a catch-up reads only what it has not read: the two label parts"
    _assert_index_matches_history(index, store, asked)

    seen = set(store.part_names())
    outcomes = compact_event_store(store, seen)
    assert outcomes["labels"].parts_in == 2 and outcomes["landed"].parts_in >= 4
    assert outcomes["predictions"].parts_in == 2
    assert index.catch_up() == 0, "a compacted part whose inputs were all read is not read again"
    _assert_index_matches_history(index, store, asked)
    fresh = EventIndex(store)
    assert fresh.catch_up() > 0
    _assert_index_matches_history(fresh, store, asked)


def test_a_listing_cache_reports_only_the_directories_whose_parts_changed(tmp_path: Path) -> None:
    import os
    import time

    from pipelines.data.listing_cache import ListingCache
    from pipelines.data.storage import Folder

    for day in ("date=1", "date=2"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "part-a.parquet").write_bytes(b"")
        os.utime(tmp_path / day, (time.time() - 60, time.time() - 60))  # changed long ago
    cache, folder = ListingCache(), Folder.at(tmp_path)
    assert cache.changed(folder, "date=*/part-*.parquet") == {
        "date=1/": ["part-a.parquet"],
        "date=2/": ["part-a.parquet"],
    }
    assert cache.changed(folder, "date=*/part-*.parquet") == {}
    (tmp_path / "date=1" / "part-b.parquet").write_bytes(b"")  # a late part in an old day
    (tmp_path / "date=1" / ".part-c.parquet.1.tmp").write_bytes(b"")  # a writer's temporary: never a part
    assert cache.changed(folder, "date=*/part-*.parquet") == {"date=1/": ["part-a.parquet", "part-b.parquet"]}
    assert cache.changed(folder, "date=*/part-*.parquet") == {}, "re-read while recent, but unchanged"
    (tmp_path / "date=2" / "part-a.parquet").unlink()
    assert cache.changed(folder, "date=*/part-*.parquet") == {"date=2/": []}
    cache.forget(folder)
    assert cache.changed(folder, "date=*/part-*.parquet") == {"date=1/": ["part-a.parquet", "part-b.parquet"]}
