"""The feature refresh against the real stores: the event store, Feast's parquet offline store and SQLite
online store. The watermark moves with the hours, and a late landing (a backfill, a chargeback) reaches the
hours it changed, offline and online."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from pipelines.core.settings import Settings
from pipelines.data.event_store import EventStore, event_store_for
from pipelines.data.landing import land_events, land_labels
from pipelines.data.schema import EVENT_TIMESTAMP
from pipelines.features.refresh import refresh_features, refresh_state_store
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
HOUR = NOW.replace(minute=0)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    from driftloop.features.apply import apply_feature_repo

    state = tmp_path_factory.mktemp("refresh") / "state"
    settings = Settings(state_dir=state, _env_file=None)  # type: ignore[call-arg]
    apply_feature_repo(settings)
    yield settings


def _online(settings: Settings, customer: int, merchant: int) -> dict[str, float]:
    from pipelines.features.store import open_feature_store

    values = (
        open_feature_store(settings)
        .get_online_features(
            features=["customer_stats:txn_count_24h", "merchant_stats:chargeback_rate_30d"],
            entity_rows=[{"customer_id": customer, "merchant_id": merchant}],
        )
        .to_dict()
    )
    return {name: values[name][0] for name in ("txn_count_24h", "chargeback_rate_30d")}


def _offline_at(settings: Settings, customer: int, merchant: int, moment: datetime) -> dict[str, float]:
    from pipelines.features.store import open_feature_store
    from pipelines.features.training_set import point_in_time_features

    rows = pd.DataFrame({"customer_id": [customer], "merchant_id": [merchant], EVENT_TIMESTAMP: [pd.Timestamp(moment)]})
    found = point_in_time_features(open_feature_store(settings), rows, FRAUD).iloc[0]
    return {
        "txn_count_24h": found["customer_stats__txn_count_24h"],
        "chargeback_rate_30d": found["merchant_stats__chargeback_rate_30d"],
    }


def test_refresh_follows_the_watermark_and_late_landings(settings: Settings) -> None:
    store: EventStore = event_store_for(settings)
    events, labels = generate(FraudConfig(end=HOUR, seed=5, days=10, size=60, merchants=12))
    land_events(store, events, "history", pd.Timestamp(NOW))
    land_labels(store, labels, "history labels", pd.Timestamp(NOW))

    first = refresh_features(settings, now=NOW)
    assert first.watermark == HOUR.isoformat() and first.rows_written["customer_stats"] > 0
    assert refresh_state_store(settings).load().watermark == HOUR.isoformat()
    customer, merchant = int(events["customer_id"].iloc[-1]), int(events["merchant_id"].iloc[-1])
    online = _online(settings, customer, merchant)
    assert online == pytest.approx(_offline_at(settings, customer, merchant, NOW)), "online = offline as of now"

    # Nothing new: only the current hour is recomputed, and nothing changes.
    again = refresh_features(settings, now=NOW + timedelta(minutes=10))
    assert again.start == HOUR.isoformat() and _online(settings, customer, merchant) == online

    # A late batch: two transactions of this customer three hours ago, and a chargeback at this merchant.
    late = events.tail(2).assign(
        event_id=["late-1", "late-2"], customer_id=customer, merchant_id=merchant,
        event_timestamp=pd.Timestamp(HOUR - timedelta(hours=3)),
    )  # fmt: skip
    land_events(store, late, "late batch", pd.Timestamp(NOW))
    chargeback = pd.DataFrame({
        "event_id": pd.array(["late-1"], dtype="string"), "is_fraud": [1],
        "label_timestamp": [pd.Timestamp(HOUR - timedelta(hours=2))],
    })  # fmt: skip
    land_labels(store, chargeback, "chargebacks", pd.Timestamp(NOW))
    later = refresh_features(settings, now=NOW + timedelta(minutes=20))
    assert later.start == (HOUR - timedelta(hours=3)).isoformat(), (
        "recomputed from the oldest hour the landings touched"
    )
    updated = _online(settings, customer, merchant)
    assert updated["txn_count_24h"] == online["txn_count_24h"] + 2
    assert updated["chargeback_rate_30d"] > online["chargeback_rate_30d"]
    assert updated == pytest.approx(_offline_at(settings, customer, merchant, NOW))
    # The hour before the backfill is untouched offline.
    before = _offline_at(settings, customer, merchant, HOUR - timedelta(hours=3, minutes=30))
    assert before["txn_count_24h"] <= online["txn_count_24h"]

    # The next hour: the watermark moves on, and the hour's transactions count from then.
    next_hour = refresh_features(settings, now=NOW + timedelta(hours=1))
    assert next_hour.watermark == (HOUR + timedelta(hours=1)).isoformat()
    assert next_hour.freshness_s == pytest.approx(30 * 60)
