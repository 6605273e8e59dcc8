"""Our online lookup (`OnlineFeatures.lookup`, Feast's online-store read without its public wrapper) answers what
Feast's public `FeatureStore.get_online_features` answers, on a real SQLite file and a real `redis-server`.

The rows are written by Feast itself (`write_to_online_store`) into every view of `fraud_streaming` (two views per
entity, so views share entity keys): customers with all their views, customers with only some, rows older than
the views' ttl, and ids the store never saw. Batches of 1 and 100 rows, with repeats, are compared value by value
(Feast's None is our default) and by the unknown-entity counts.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import prometheus_client
import pytest
from pydantic import SecretStr

from driftloop.features.apply import apply_feature_repo
from pipelines.core.settings import Settings
from pipelines.core.use_case import UseCase, feature_column
from pipelines.features.store import open_feature_store
from serving.online_features import OnlineFeatures, OnlineStoreDown, features_or_policy
from tests.integration.conftest import REDIS_PASSWORD, running_redis
from use_cases.fraud.streamed import USE_CASE

pytestmark = pytest.mark.integration

CUSTOMERS, MERCHANTS = 40, 20  # ids 0.. in the store; higher ids are unknown
STALE = range(35, 40)  # customers whose rows are older than the views' ttl (7 days)
UNKNOWN_CUSTOMER, UNKNOWN_MERCHANT = 10_000_001, 10_000_002
TIMEOUT_S = 0.25


def _rows(view_name: str, key: str, ids: range, now: datetime) -> pd.DataFrame:
    """Feature rows of one view: distinct values per id and feature, typed as the view declares."""
    view = next(view for view in USE_CASE.views if view.name == view_name)
    stamps = [now - (timedelta(days=8) if key == "customer_id" and i in STALE else timedelta(hours=1)) for i in ids]
    frame = pd.DataFrame({key: np.array(ids, dtype="int64"), "event_timestamp": stamps, "created_timestamp": now})
    for position, feature in enumerate(view.features):
        values = np.array(ids) * 100 + position
        frame[feature.name] = values.astype("int64") if feature.dtype == "int64" else values + 0.25
    return frame


def _fill(settings: Settings) -> None:
    """Every view of the use case, through Feast's own write: velocity views for only half of their entities."""
    apply_feature_repo(settings)
    writer = open_feature_store(settings)
    now = datetime.now(UTC)
    for view in USE_CASE.views:
        key = USE_CASE.key_of(view.name)
        known = CUSTOMERS if key == "customer_id" else MERCHANTS
        if view.streamed:
            known //= 2
        writer.write_to_online_store(view.name, _rows(view.name, key, range(known), now))


def _in_redis(settings: Settings, address: str) -> Settings:
    """The same settings on the Redis at `address` (asking for a password, as the chart's does)."""
    redis = {"feast_online_store": "redis", "feast_redis_url": address}
    return settings.model_copy(update={**redis, "feast_redis_password": SecretStr(REDIS_PASSWORD)})


@pytest.fixture(params=["sqlite", "redis"])
def serving_settings(
    request: pytest.FixtureRequest, clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Settings]:
    """Settings of a filled online store of each kind, as a model server reads it (bounded reads)."""
    settings = Settings(state_dir=tmp_path, use_case=USE_CASE.name, online_store_timeout_s=TIMEOUT_S)
    if request.param == "sqlite":
        _fill(settings)
        yield settings
        return
    with running_redis() as address:
        in_redis = _in_redis(settings, address)
        _fill(in_redis)
        yield in_redis


def _batch(customers: list[int], merchants: list[int]) -> dict[str, np.ndarray]:
    return {"customer_id": np.array(customers, dtype=np.int64), "merchant_id": np.array(merchants, dtype=np.int64)}


def _feasts_answer(features: OnlineFeatures, batch: dict[str, np.ndarray]) -> dict[str, list[object]]:
    keys = {key: values.tolist() for key, values in batch.items()}
    return features.store.get_online_features(
        features=features.refs, entity_rows=keys, full_feature_names=True
    ).to_dict()


def _entity_columns(use_case: UseCase) -> dict[str, list[str]]:
    return {
        entity.name: [
            feature_column(v.name, f.name) for v in use_case.views if v.entity == entity.name for f in v.features
        ]
        for entity in use_case.entities
    }


BATCHES = {
    "one known": ([3], [4]),
    "one unknown": ([UNKNOWN_CUSTOMER], [UNKNOWN_MERCHANT]),
    "one older than the ttl": ([STALE[0]], [2]),
    # Known, half-known (no velocity row), stale and unknown ids, each more than once.
    "a hundred": (
        np.random.default_rng(5).integers(0, CUSTOMERS + 10, 98).tolist() + [UNKNOWN_CUSTOMER, 3],
        np.random.default_rng(6).integers(0, MERCHANTS + 5, 98).tolist() + [4, UNKNOWN_MERCHANT],
    ),
}


def test_our_lookup_equals_feasts_get_online_features(serving_settings: Settings) -> None:
    features = OnlineFeatures(open_feature_store(serving_settings, serving=True), USE_CASE)
    for name, (customers, merchants) in BATCHES.items():
        batch = _batch(customers, merchants)
        ours, feasts = features.lookup(batch), _feasts_answer(features, batch)
        assert set(ours.features) == set(USE_CASE.feature_columns)
        for column, values in ours.features.items():
            expected = np.array([features.default if v is None else v for v in feasts[column]], dtype=np.float64)
            np.testing.assert_array_equal(values, expected, err_msg=f"{name}: {column}")
        unknown = {
            entity: sum(all(feasts[c][row] is None for c in columns) for row in range(len(customers)))
            for entity, columns in _entity_columns(USE_CASE).items()
        }
        assert ours.unknown == unknown, name
    hundred = features.lookup(_batch(*BATCHES["a hundred"]))
    assert hundred.unknown["customer"] > 0 and hundred.unknown["merchant"] > 0
    assert (hundred.features["customer_stats__txn_count_24h"] != features.default).sum() > 50
    velocity = hundred.features["card_velocity__txn_count_5m"]
    assert 0 < (velocity != features.default).sum() < len(velocity), "some customers lack only their velocity row"


def test_a_row_older_than_its_views_ttl_is_served_as_feast_serves_it(serving_settings: Settings) -> None:
    """Feast's online read (0.67) applies no ttl: an old row is served, not the default. The refresh keeps such
    rows out by materialising only within the ttl; this pins the behaviour the equality above relies on."""
    features = OnlineFeatures(open_feature_store(serving_settings, serving=True), USE_CASE)
    batch = _batch([STALE[0]], [2])
    assert _feasts_answer(features, batch)["customer_stats__txn_count_1h"] == [STALE[0] * 100]
    looked_up = features.lookup(batch)
    assert looked_up.features["customer_stats__txn_count_1h"].tolist() == [STALE[0] * 100]
    assert looked_up.unknown == {"customer": 0, "merchant": 0}


def test_unknown_entities_get_the_default_and_are_counted(serving_settings: Settings) -> None:
    features = OnlineFeatures(open_feature_store(serving_settings, serving=True), USE_CASE)
    batch = _batch([UNKNOWN_CUSTOMER, 3, UNKNOWN_CUSTOMER], [4, UNKNOWN_MERCHANT, 5])

    def counted(entity: str) -> float:
        return prometheus_client.REGISTRY.get_sample_value("driftloop_unknown_entities_total", {"entity": entity}) or 0

    before = {entity: counted(entity) for entity in ("customer", "merchant")}
    looked_up = features_or_policy(features, batch, "fail_closed")
    assert {entity: counted(entity) - before[entity] for entity in before} == {"customer": 2, "merchant": 1}
    assert looked_up.features["customer_stats__txn_count_24h"].tolist() == [features.default, 301, features.default]
    assert looked_up.features["merchant_stats__txn_count_24h"].tolist() == [400, features.default, 500]


def test_a_registry_change_is_read_on_its_next_refresh(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The views are resolved once and kept until Feast's registry cache reloads, as Feast's own call keeps its
    resolution: a view disabled in the registry stops serving in both at the same refresh."""
    settings = Settings(state_dir=tmp_path, use_case=USE_CASE.name)
    _fill(settings)
    store = open_feature_store(settings, serving=True)
    features = OnlineFeatures(store, USE_CASE)
    batch = _batch([3], [4])
    assert features.lookup(batch).unknown == {"customer": 0, "merchant": 0}
    writer = open_feature_store(settings)
    view = writer.get_feature_view("merchant_stats")
    view.enabled = False
    writer.registry.apply_feature_view(view, settings.feast_project, commit=True)
    assert features.lookup(batch).unknown == {"customer": 0, "merchant": 0}, "read before the registry reloaded"
    store.refresh_registry()
    with pytest.raises(ValueError, match="merchant_stats' is disabled") as feasts:
        _feasts_answer(features, batch)
    with pytest.raises(ValueError) as ours:
        features.lookup(batch)
    assert str(ours.value) == str(feasts.value)


def test_a_frozen_redis_is_online_store_down_within_the_timeout(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import psutil

    settings = Settings(state_dir=tmp_path, use_case=USE_CASE.name, online_store_timeout_s=TIMEOUT_S)
    with running_redis() as address:
        in_redis = _in_redis(settings, address)
        _fill(in_redis)
        # a pause longer than the test: the refusal below cannot depend on how fast this machine runs it
        features = OnlineFeatures(open_feature_store(in_redis, serving=True), USE_CASE, pause_s=60.0)
        batch = _batch([3], [4])
        assert features.lookup(batch).unknown == {"customer": 0, "merchant": 0}
        port = address.rsplit(":", 1)[1]
        (server,) = [
            process
            for process in psutil.process_iter(["name", "cmdline"])
            if process.info["name"] == "redis-server" and port in " ".join(process.info["cmdline"] or [])
        ]
        os.kill(server.pid, signal.SIGSTOP)
        try:
            started = time.perf_counter()
            with pytest.raises(OnlineStoreDown, match="the online store did not answer"):
                features.lookup(batch)
            assert time.perf_counter() - started < TIMEOUT_S + 0.5
        finally:
            os.kill(server.pid, signal.SIGCONT)
        started = time.perf_counter()
        with pytest.raises(OnlineStoreDown, match="not asked again yet"):  # the pause: refused without asking
            features.lookup(batch)
        assert time.perf_counter() - started < TIMEOUT_S / 2
        assert features.answering(), "readiness's probe asks the store whatever the pause"
        assert features.lookup(batch).unknown == {"customer": 0, "merchant": 0}, "answers again once it is back"
