"""Feature engineering and the offline store: values equal a brute-force recomputation, windows are
idempotent, and Feast's historical retrieval over our tables is point-in-time correct."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core.layout import Layout
from pipelines.data.entity_partitions import EntitySlice
from pipelines.data.storage import Folder
from pipelines.features.offline_store import (
    build_offline_features,
    offline_table_paths,
    read_offline_table,
    streamed_tables,
    write_window,
)
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.features import compute_customer_stats, compute_merchant_stats
from use_cases.fraud.generator import FraudConfig, generate

END = datetime(2026, 11, 1, tzinfo=UTC)


def table_rows(table: Folder) -> pd.DataFrame:
    """A fraud view's offline table, in its one order."""
    return read_offline_table(table, FRAUD.key_of(table.name))


START = END - timedelta(days=12)


@pytest.fixture(scope="module")
def raw() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(FraudConfig(end=END, days=12, size=120, merchants=15, seed=3))


def _window(frame: pd.DataFrame, moment: pd.Timestamp, span: pd.Timedelta) -> pd.DataFrame:
    stamps = frame["event_timestamp"]
    return frame[(stamps >= moment - span) & (stamps < moment)]


def _velocity_truth(events: pd.DataFrame, key: str, entity: int, moment: pd.Timestamp) -> dict[str, float]:
    """The streamed views' definition read literally: the entity's events strictly before `moment`, windows ending
    at the latest of them (NaN when there is none: the row does not exist)."""
    before = events[(events[key] == entity) & (events["event_timestamp"] < moment)]
    if before.empty:
        return {}
    latest = before["event_timestamp"].max()
    five = before[before["event_timestamp"] > latest - pd.Timedelta(minutes=5)]
    hour = before[before["event_timestamp"] > latest - pd.Timedelta(hours=1)]
    truth = {"txn_count_5m": len(five), "amount_sum_5m": five["amount"].sum(), "txn_count_1h": len(hour),
             "amount_sum_1h": hour["amount"].sum()}  # fmt: skip
    if key == "customer_id":
        times = hour["event_timestamp"].sort_values()
        gap = (latest - times.iloc[-2]).total_seconds() if len(times) > 1 else 3600.0
        truth |= {"distinct_merchants_1h": hour["merchant_id"].nunique(), "seconds_since_previous": gap}
    return truth


def _customer_truth(events: pd.DataFrame, customer: int, moment: pd.Timestamp) -> dict[str, float]:
    own = events[events["customer_id"] == customer]
    hour, day, week = (_window(own, moment, pd.Timedelta(hours=h)) for h in (1, 24, 168))
    return {
        "txn_count_1h": len(hour),
        "txn_count_24h": len(day),
        "amount_sum_24h": day["amount"].sum(),
        "amount_mean_7d": week["amount"].mean() if len(week) else 0.0,
        "amount_max_7d": week["amount"].max() if len(week) else 0.0,
        "distinct_merchants_7d": week["merchant_id"].nunique(),
    }


def _merchant_truth(
    events: pd.DataFrame, labels: pd.DataFrame, merchant: int, moment: pd.Timestamp
) -> dict[str, float]:
    own = events[events["merchant_id"] == merchant]
    month = _window(own, moment, pd.Timedelta(days=30)).merge(labels, on="event_id", how="left")
    known = ((month["is_fraud"] == 1) & (month["label_timestamp"] < moment)).sum()
    week = _window(own, moment, pd.Timedelta(days=7))
    return {
        "txn_count_24h": len(_window(own, moment, pd.Timedelta(hours=24))),
        "amount_mean_7d": week["amount"].mean() if len(week) else 0.0,
        "chargeback_rate_30d": known / len(month) if len(month) else 0.0,
    }


def _assert_close(row: pd.Series, truth: dict[str, float]) -> None:
    for name, expected in truth.items():
        assert np.isclose(float(row[name]), float(expected), rtol=1e-5, atol=1e-4), (name, row.to_dict(), truth)


def test_customer_rows_equal_a_brute_force_recomputation(raw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, _ = raw
    rows = compute_customer_stats(events, START, END, computed_at=END)
    assert rows["event_timestamp"].min() >= pd.Timestamp(START) and rows["event_timestamp"].max() <= pd.Timestamp(END)
    assert not rows.duplicated(["customer_id", "event_timestamp"]).any()
    assert (rows["event_timestamp"].dt.minute == 0).all()
    for _, row in rows.sample(150, random_state=0).iterrows():
        _assert_close(row, _customer_truth(events, int(row["customer_id"]), row["event_timestamp"]))


def test_merchant_rows_count_a_chargeback_only_after_its_label_arrived(raw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, labels = raw
    rows = compute_merchant_stats(events, labels, START, END, computed_at=END)
    assert rows["chargeback_rate_30d"].max() > 0
    for _, row in rows.sample(100, random_state=1).iterrows():
        _assert_close(row, _merchant_truth(events, labels, int(row["merchant_id"]), row["event_timestamp"]))


def test_rows_appear_only_where_a_value_changes_and_windows_empty_out(raw: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    events, _ = raw
    rows = compute_customer_stats(events, START, END, computed_at=END)
    values = rows.drop(columns=["event_timestamp", "created_timestamp"])
    diffs = values.groupby("customer_id").diff()
    same_as_previous = diffs.notna().all(axis=1) & (diffs.abs().sum(axis=1) == 0)
    assert not same_as_previous.any()
    one = events[events["customer_id"] == events["customer_id"].iloc[0]].head(1)
    single = compute_customer_stats(one, START, END, computed_at=END)
    hour = one["event_timestamp"].iloc[0].floor("h")
    assert single["event_timestamp"].tolist()[:2] == [hour + pd.Timedelta(hours=1), hour + pd.Timedelta(hours=2)]
    assert single.iloc[-1][["txn_count_1h", "txn_count_24h", "distinct_merchants_7d"]].sum() == 0


def test_rewriting_a_window_replaces_rows_instead_of_duplicating(
    tmp_path: Path, raw: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    events, labels = raw
    middle = END - timedelta(days=4)
    first = build_offline_features(events, labels, tmp_path, START, END, computed_at=END, use_case=FRAUD)
    path = offline_table_paths(tmp_path, FRAUD)["customer_stats"].local_path
    table = pd.read_parquet(path)
    assert len(table) == first["customer_stats"]
    build_offline_features(events, labels, tmp_path, middle, END, computed_at=END + timedelta(hours=1), use_case=FRAUD)
    again = pd.read_parquet(path)
    assert len(again) == len(table)
    assert not again.duplicated(["customer_id", "event_timestamp"]).any()
    pd.testing.assert_frame_equal(
        again.drop(columns="created_timestamp").reset_index(drop=True),
        table.drop(columns="created_timestamp").reset_index(drop=True),
    )
    assert (again.loc[again["event_timestamp"] >= pd.Timestamp(middle), "created_timestamp"] > pd.Timestamp(END)).all()
    # A late batch: events that arrive after the window was first computed change it on the rerun.
    late = events.sample(50, random_state=2).assign(
        event_id=lambda f: "late-" + f["event_id"], event_timestamp=pd.Timestamp(middle) + pd.Timedelta(hours=5)
    )
    build_offline_features(pd.concat([events, late]), labels, tmp_path, middle, END, computed_at=END, use_case=FRAUD)
    assert not pd.read_parquet(path).duplicated(["customer_id", "event_timestamp"]).any()
    with pytest.raises(ValueError, match="outside the window"):
        write_window(table, path, middle, END, EntitySlice("customer_id", 0, 1))


def test_feast_historical_retrieval_never_uses_events_at_or_after_the_row(
    tmp_path: Path, raw: tuple[pd.DataFrame, pd.DataFrame], clean_env: pytest.MonkeyPatch
) -> None:
    """The point-in-time test: each training row's features equal what the events strictly before it give (the
    hourly views through Feast, the streamed ones by their as-of join; fraud_streaming declares both)."""
    from driftloop.features.apply import apply_feature_repo
    from pipelines.core.settings import Settings
    from pipelines.features.store import open_feature_store
    from pipelines.features.training_set import build_training_set, labelled_events
    from use_cases.fraud.schema import STREAMED_FEATURE_REFS
    from use_cases.fraud.streamed import USE_CASE as STREAMING

    events, labels = raw
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    clean_env.setenv("DRIFTLOOP_USE_CASE", STREAMING.name)
    settings = Settings()
    apply_feature_repo(settings)
    build_offline_features(
        events, labels, Layout.from_settings(settings).feast_repo, START, END, computed_at=END, use_case=STREAMING
    )
    labelled = labelled_events(events, labels, 2, STREAMING).sample(120, random_state=4)
    streamed = streamed_tables(Layout.from_settings(settings).feast_repo, STREAMING)
    joined = build_training_set(open_feature_store(settings), labelled, STREAMING, streamed)
    assert len(joined) == len(labelled) and len(STREAMED_FEATURE_REFS) == 19
    for _, row in joined.iterrows():
        # The newest feature row Feast may use is stamped at the hour boundary at or before the
        # transaction and summarises events strictly before that boundary: never the row's own event,
        # never its own label, nothing later.
        moment = row["event_timestamp"].floor("h")
        customer = _customer_truth(events, int(row["customer_id"]), moment)
        merchant = _merchant_truth(events, labels, int(row["merchant_id"]), moment)
        customer_row = pd.Series({k: row[f"customer_stats__{k}"] for k in customer}).fillna(0)
        merchant_row = pd.Series({k: row[f"merchant_stats__{k}"] for k in merchant}).fillna(0)
        _assert_close(customer_row, customer)
        _assert_close(merchant_row, merchant)
        # The streamed views: the windows at the entity's latest event strictly before this one (not the hour).
        for view, key in (("card_velocity", "customer_id"), ("merchant_velocity", "merchant_id")):
            truth = _velocity_truth(events, key, int(row[key]), row["event_timestamp"])
            for name, value in truth.items():
                assert row[f"{view}__{name}"] == pytest.approx(value, rel=1e-9, abs=1e-6), (view, name)


def _event_store_with(root: Path, events: pd.DataFrame, labels: pd.DataFrame) -> tuple[Folder, Folder]:
    from pipelines.data.event_store import EventStore

    store = EventStore(root / "events", root / "predictions", FRAUD)
    with store.locked():
        store.append_events(events, pd.Timestamp(END))
        store.append_labels(labels, pd.Timestamp(END), trusted_times=True)
    return store.root, store.prediction_log


def test_partition_tasks_reading_the_event_store_write_the_single_pass_tables(
    tmp_path: Path, raw: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The ray engine's streaming build (each task reads, computes and writes one partition), run here with the
    pandas engine's sequential map: the tables equal the single pass's; a later build with another partition
    count replaces the layout without duplicating a row; an earlier version's single file is adopted."""
    from pipelines.features.compute_engine import PandasEngine
    from pipelines.features.offline_store import adopt_single_file_tables
    from pipelines.features.partitions import build_from_event_store

    events, labels = raw
    root, log = _event_store_with(tmp_path, events, labels)
    single = tmp_path / "single"
    build_offline_features(events, labels, single, START, END, computed_at=END, use_case=FRAUD)
    parted = tmp_path / "parted"
    tables = offline_table_paths(parted, FRAUD)

    def single_table(view: str) -> pd.DataFrame:
        return table_rows(offline_table_paths(single, FRAUD)[view])

    read, written = build_from_event_store(root, log, FRAUD, tables, START - timedelta(days=31), START, END, END,
                                           PandasEngine(), 4)  # fmt: skip
    assert read == len(events)
    for view, table in tables.items():
        assert len(table.files("part-*-of-00004.parquet")) == 4
        expected = single_table(view)
        pd.testing.assert_frame_equal(table_rows(table), expected, check_exact=True)
        assert written[view] == len(expected)

    # Another partition count over the last days: old parts gone, rows once each, values unchanged.
    middle = END - timedelta(days=3)
    build_from_event_store(root, log, FRAUD, tables, START - timedelta(days=31), middle, END, END, PandasEngine(), 3)
    for view, table in tables.items():
        names = table.files("part-*.parquet")
        assert len(names) == 3 and all(name.endswith("-of-00003.parquet") for name in names), names
        rebuilt = table_rows(table)
        pd.testing.assert_frame_equal(rebuilt, single_table(view), check_exact=True)

    # An earlier version's single-file table becomes the folder's one part.
    legacy = tmp_path / "legacy"
    build_offline_features(events, labels, legacy, START, END, computed_at=END, use_case=FRAUD)
    for table in offline_table_paths(legacy, FRAUD).values():
        folder = table.local_path
        (folder / "part-00000-of-00001.parquet").rename(folder.with_name(f"{table.name}.parquet"))
        folder.rmdir()
    adopt_single_file_tables(legacy, FRAUD)
    for view, table in offline_table_paths(legacy, FRAUD).items():
        assert not table.local_path.with_name(f"{table.name}.parquet").exists()
        pd.testing.assert_frame_equal(
            table_rows(table),
            single_table(view),
            check_exact=True,
        )


def test_a_features_replay_for_a_past_hour_uses_only_what_was_known_then(
    raw: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """Withdrawing a fraud verdict today (a 1 -> 0 flip) leaves every earlier hour's chargeback rate as it was."""
    from pipelines.data.label_history import label_spans
    from pipelines.data.schema import EVENT_ID, LABEL_TIMESTAMP, UNTIL
    from use_cases.fraud.schema import IS_FRAUD

    events, labels = raw
    records = labels.assign(ingested_at=labels[LABEL_TIMESTAMP])
    before = compute_merchant_stats(events, label_spans(records, IS_FRAUD), START, END, computed_at=END)
    fraud = labels[labels[IS_FRAUD] == 1].iloc[0]
    flip_at = pd.Timestamp(END) - pd.Timedelta(hours=3)
    flipped = pd.DataFrame({EVENT_ID: pd.array([fraud[EVENT_ID]], dtype="string"), IS_FRAUD: [0],
                            LABEL_TIMESTAMP: [flip_at], "ingested_at": [flip_at]})  # fmt: skip
    spans = label_spans(pd.concat([records, flipped], ignore_index=True), IS_FRAUD)
    frauds = spans[spans[IS_FRAUD] == 1]
    assert frauds.set_index(EVENT_ID).loc[fraud[EVENT_ID], UNTIL] == flip_at
    after = compute_merchant_stats(events, spans, START, END, computed_at=END)
    key = ["merchant_id", "event_timestamp"]
    merged = before.merge(after, on=key, how="outer", suffixes=("_before", "_after"), indicator=True)
    merchant = events.set_index(EVENT_ID).loc[fraud[EVENT_ID], "merchant_id"]
    past = merged[merged["event_timestamp"] <= flip_at.floor("h")]
    assert (past["_merge"] == "both").all()
    np.testing.assert_array_equal(past["chargeback_rate_30d_before"], past["chargeback_rate_30d_after"])
    later = merged[
        (merged["merchant_id"] == merchant) & (merged["event_timestamp"] > flip_at.floor("h") + pd.Timedelta(hours=1))
    ]
    assert (
        len(later)
        and (later["chargeback_rate_30d_after"].fillna(0) < later["chargeback_rate_30d_before"].fillna(1)).any()
    )
