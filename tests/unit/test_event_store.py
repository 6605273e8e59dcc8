"""The event store and landings on real parquet files: idempotent, quarantining, latest label wins."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.data.event_store import EventStore
from pipelines.data.landing import REASON, land_events, land_labels
from pipelines.data.prediction_log_format import partition_name
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from pipelines.registry.lineage import frame_fingerprint
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate
from use_cases.fraud.schema import IS_FRAUD

NOW = pd.Timestamp(datetime.now(UTC).replace(minute=0, second=0, microsecond=0))
DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(FraudConfig(end=NOW.to_pydatetime(), seed=3, days=4, size=40, merchants=8))


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(tmp_path / "events", tmp_path / "predictions", FRAUD)


def test_landing_the_same_events_twice_changes_nothing(store: EventStore, world: tuple[pd.DataFrame, ...]) -> None:
    events, labels = world
    first = land_events(store, events, "day.parquet", NOW)
    assert (first.landed, first.quarantined) == (len(events), 0)
    stored, fingerprint = store.events(), frame_fingerprint(store.events(), store.labels())
    second = land_events(store, events, "day.parquet", NOW + timedelta(minutes=5))
    assert (second.landed, second.already_present) == (0, len(events))
    assert len(store.events()) == len(stored) == len(events)
    pd.testing.assert_frame_equal(store.events(), stored)
    assert frame_fingerprint(store.events(), store.labels()) == fingerprint
    assert len(store.landings()) == 1, "a landing that adds nothing is not a change"

    land_labels(store, labels, "labels.parquet", NOW)
    counted = len(store.label_records())
    again = land_labels(store, labels, "labels.parquet", NOW + timedelta(minutes=5))
    assert (again.landed, again.already_present, len(store.label_records())) == (0, len(labels), counted)


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_land(
    store: EventStore, world: tuple[pd.DataFrame, ...]
) -> None:
    events = world[0].head(50).copy()
    events.loc[3, "amount"] = -5.0
    events.loc[7, "channel"] = "carrier-pigeon"
    events.loc[9, "amount"] = np.nan
    events.loc[11, EVENT_TIMESTAMP] = NOW + timedelta(days=2)
    events.loc[12, EVENT_ID] = events.loc[13, EVENT_ID]  # two different rows, one id
    result = land_events(store, events, "bad.parquet", NOW)
    assert (result.landed, result.quarantined) == (44, 6)
    assert result.reasons == {
        "events.amount.range": 1, "events.channel.domain": 1, "events.amount.nulls": 1,
        "events.event_timestamp.future": 1, "events.event_id.unique": 2,
    }  # fmt: skip
    assert result.quarantine_path is not None
    quarantined = pd.read_parquet(result.quarantine_path)
    assert len(quarantined) == 6 and set(quarantined[REASON]) >= {"events.amount.range", "events.channel.domain"}
    assert len(store.events()) == 44

    naive = world[0].head(5).assign(**{EVENT_TIMESTAMP: world[0].head(5)[EVENT_TIMESTAMP].dt.tz_localize(None)})
    whole = land_events(store, naive, "naive.parquet", NOW)
    assert whole.quarantined == 5 and "events.event_timestamp.type" in next(iter(whole.reasons))


def test_labels_refer_to_known_events_and_the_latest_label_wins(
    store: EventStore, world: tuple[pd.DataFrame, ...]
) -> None:
    events, labels = world
    land_events(store, events, "events.parquet", NOW)
    event_id = labels[EVENT_ID].iloc[0]
    unknown = pd.DataFrame({EVENT_ID: pd.array(["txn-nobody"], dtype="string"), IS_FRAUD: [1],
                            LABEL_TIMESTAMP: [NOW]})  # fmt: skip
    result = land_labels(store, pd.concat([labels.head(10), unknown], ignore_index=True), "l.parquet", NOW)
    assert (result.landed, result.quarantined, result.reasons) == (10, 1, {"labels.event_id.references": 1})

    before = store.labels().set_index(EVENT_ID).loc[event_id]
    changed = labels.head(1).assign(**{IS_FRAUD: 1 - before[IS_FRAUD], LABEL_TIMESTAMP: NOW + timedelta(minutes=1)})
    assert land_labels(store, changed, "chargeback.parquet", NOW + timedelta(minutes=2)).landed == 1
    current = store.labels().set_index(EVENT_ID).loc[event_id]
    assert current[IS_FRAUD] == 1 - before[IS_FRAUD] and current[LABEL_TIMESTAMP] == NOW + timedelta(minutes=1)
    assert len(store.labels()) == 10 and len(store.label_records()) == 11, "the old label is kept"
    as_known_before = store.labels(known_at=NOW).set_index(EVENT_ID).loc[event_id]
    assert as_known_before[IS_FRAUD] == before[IS_FRAUD]


def test_served_transactions_come_from_the_prediction_log_once_each(
    store: EventStore, world: tuple[pd.DataFrame, ...]
) -> None:
    served = world[0].tail(6).copy()
    rows = served.assign(logged_at=NOW, role="served", model_version="1", prediction=0.1)
    rows = pd.concat([rows, rows.head(1), rows.head(2).assign(role="shadow")], ignore_index=True)  # a retry
    folder = store.prediction_log.local_path / partition_name(NOW)
    folder.mkdir(parents=True)
    rows.to_parquet(folder / "part-1.parquet", index=False)
    assert sorted(store.events()[EVENT_ID]) == sorted(served[EVENT_ID])
    # The lake's later load holds the same transactions: they are already known.
    assert land_events(store, served, "lake.parquet", NOW + timedelta(hours=1)).already_present == 6
    assert len(store.events()) == 6


def test_ingest_command_reports_counts_and_exits_1_on_quarantine(
    tmp_path: Path, world: tuple[pd.DataFrame, ...], clean_env: pytest.MonkeyPatch
) -> None:
    import os

    events = world[0].head(20).copy()
    good = tmp_path / "good.parquet"
    events.to_parquet(good, index=False)
    bad = tmp_path / "bad.parquet"
    events.head(3).assign(amount=-1.0, event_id=lambda f: f[EVENT_ID] + "-x").to_parquet(bad, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env["DRIFTLOOP_STATE_DIR"] = str(tmp_path / "state")

    def ingest(*files: Path) -> subprocess.CompletedProcess[str]:
        args = [DRIFTLOOP, "data", "ingest", "events", *map(str, files)]
        return subprocess.run(args, env=env, capture_output=True, text=True, check=False)

    first = ingest(good, bad)
    assert first.returncode == 1, first.stderr
    assert "20 landed" in first.stdout and "3 quarantined" in first.stdout
    assert "error: 3 events rows were quarantined" in first.stderr
    second = ingest(good)
    assert second.returncode == 0 and "0 landed, 20 already present" in second.stdout


def test_a_bounded_read_opens_only_the_days_it_covers(store: EventStore, world: tuple[pd.DataFrame, ...]) -> None:
    """A window's reader (every refresh) reads only its days' parts: an unreadable part on another day is not
    even opened by the window's read (it is still in place), and the window holds exactly its events. The
    unbounded read opens it, moves it aside with its reason and goes on."""
    events = world[0]
    land_events(store, events, "lake.parquet", NOW)
    start, end = events[EVENT_TIMESTAMP].quantile(0.4), events[EVENT_TIMESTAMP].quantile(0.6)
    outside = (events[EVENT_TIMESTAMP].min() - timedelta(days=3)).strftime("%Y-%m-%d")
    broken = store.landed_dir.local_path / f"date={outside}" / "part-0-broken.parquet"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not parquet")
    window = store.events(start, end)
    expected = events[(events[EVENT_TIMESTAMP] >= start) & (events[EVENT_TIMESTAMP] < end)]
    assert sorted(window[EVENT_ID]) == sorted(expected[EVENT_ID]) and len(window) > 100
    assert broken.exists() and store.unreadable() == [], "the window's read never opened the other day's part"
    assert len(store.events()) == len(events)
    [moved] = store.unreadable()
    assert moved.file.endswith("part-0-broken.parquet") and "magic bytes" in moved.reason and not broken.exists()


def test_a_label_sent_over_http_counts_from_its_arrival_not_its_stamp(
    store: EventStore, world: tuple[pd.DataFrame, ...]
) -> None:
    """A client's label_timestamp is business time only: a label backdated by its sender does not enter a
    training window or a feature hour whose cutoff is before it arrived. A batch landing's stamps count."""
    events, labels = world
    land_events(store, events, "day.parquet", NOW)
    land_labels(store, labels, "history.parquet", NOW)  # trusted: known at their own stamps
    before = store.labels(known_at=NOW).set_index(EVENT_ID)[IS_FRAUD]
    target = before.index[-1]
    event_time = events.set_index(EVENT_ID).loc[target, EVENT_TIMESTAMP]
    arrival = NOW + timedelta(hours=2)
    backdated = pd.DataFrame({EVENT_ID: pd.array([target], dtype="string"), IS_FRAUD: [1 - int(before[target])],
                              LABEL_TIMESTAMP: [event_time + timedelta(seconds=1)]})  # fmt: skip
    result = land_labels(store, backdated, "POST /v1/labels", arrival, trusted_times=False)
    assert result.landed == 1
    assert store.labels(known_at=arrival).set_index(EVENT_ID)[IS_FRAUD][target] == before[target]
    after = store.labels(known_at=arrival + timedelta(seconds=1)).set_index(EVENT_ID)
    assert after[IS_FRAUD][target] == 1 - before[target] and after[LABEL_TIMESTAMP][target] == arrival
    record = store.label_records().iloc[-1]
    assert record[LABEL_TIMESTAMP] == backdated[LABEL_TIMESTAMP].iloc[0], "the business time is kept"
    assert record["sent_by"] == "POST /v1/labels" and record["via"] == "http", "each label says who sent it"
    assert set(store.label_records()["sent_by"].iloc[:-1]) == {"history.parquet"}
    assert store.landings()[-1].oldest_label == arrival.isoformat(), "the refresh recomputes from its arrival"


def test_a_withdrawn_fraud_verdict_stays_known_for_the_hours_before(store: EventStore) -> None:
    """Label spans: 1 at t1, 0 at t2, 1 again at t3 is three spans, two of them fraud; a re-sent 1 is not a new
    one."""
    t0 = NOW - timedelta(days=3)
    stamp = lambda hours: t0 + timedelta(hours=hours)  # noqa: E731
    records = pd.DataFrame({
        EVENT_ID: pd.array(["a", "a", "a", "a", "b", "c"], dtype="string"),
        IS_FRAUD: [1, 1, 0, 1, 0, 1],
        LABEL_TIMESTAMP: [stamp(1), stamp(2), stamp(5), stamp(9), stamp(1), stamp(3)],
        "ingested_at": [stamp(10)] * 6,
    })  # fmt: skip
    from pipelines.data.label_history import label_spans
    from pipelines.data.schema import UNTIL

    every = label_spans(records, IS_FRAUD).sort_values([EVENT_ID, LABEL_TIMESTAMP]).reset_index(drop=True)
    assert every[EVENT_ID].tolist() == ["a", "a", "a", "b", "c"] and every[IS_FRAUD].tolist() == [1, 0, 1, 0, 1]
    assert every[UNTIL].iloc[1] == stamp(9), "the withdrawal holds until the verdict came back"
    spans = every[every[IS_FRAUD] == 1].reset_index(drop=True)
    assert spans[EVENT_ID].tolist() == ["a", "a", "c"]
    assert spans[LABEL_TIMESTAMP].tolist() == [stamp(1), stamp(9), stamp(3)]
    assert spans[UNTIL].iloc[0] == stamp(5) and spans[UNTIL].iloc[1:].isna().all()


def test_an_event_id_taken_by_a_different_transaction_is_quarantined_not_dropped(
    store: EventStore, world: tuple[pd.DataFrame, ...]
) -> None:
    """Someone scored a made-up transaction under a real id first: the real landing of that id is kept in
    quarantine with its reason; the same transaction again (even re-stamped) is already present."""
    from pipelines.data.landing import land_events as land

    events = world[0].head(20).reset_index(drop=True)
    land(store, events.head(10), "first.parquet", NOW)
    again = events.head(12).copy()
    again.loc[0, EVENT_TIMESTAMP] = again.loc[0, EVENT_TIMESTAMP] + timedelta(seconds=3)  # re-stamped, same one
    again.loc[1, "amount"] = again.loc[1, "amount"] + 100.0  # another transaction under a taken id
    result = land(store, again, "second.parquet", NOW + timedelta(minutes=1))
    assert (result.landed, result.already_present, result.quarantined) == (2, 9, 1)
    assert result.reasons == {"events.event_id.collision": 1}
    kept = pd.read_parquet(result.quarantine_path)
    assert kept[EVENT_ID].tolist() == [again.loc[1, EVENT_ID]] and kept[REASON].iloc[0] == "events.event_id.collision"
    stored = store.events().set_index(EVENT_ID)
    assert stored.loc[again.loc[1, EVENT_ID], "amount"] == events.loc[1, "amount"], "the first one is untouched"
