"""The cluster's online store: Feast on a real `redis-server` serves exactly what the SQLite store serves.

Cluster mode materialises into Redis (`DRIFTLOOP_FEAST_ONLINE_STORE=redis`); local mode into SQLite. Both
are loaded here from the same offline tables the pipeline built, over the same window, and looked up for the
same known and unknown entities: the features serving sees must not depend on the store. The Redis server
asks for a password, as the chart's does (`--requirepass`), and Feast is given it through
DRIFTLOOP_FEAST_REDIS_PASSWORD.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.integration.conftest import REDIS_PASSWORD as PASSWORD
from tests.integration.local_platform import PlatformUnderTest
from use_cases.fraud import USE_CASE as FRAUD

pytestmark = pytest.mark.integration


def test_redis_and_sqlite_online_stores_serve_the_same_features(
    platform: PlatformUnderTest, first_run: str, redis_url: str, tmp_path: Path
) -> None:
    import redis

    from driftloop.features.apply import apply_feature_repo
    from pipelines.core.settings import Settings
    from pipelines.features.store import materialize_online, open_feature_store
    from serving.online_features import OnlineFeatures
    from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS

    # A copy of the trained platform's Feast folder (offline tables, registry): the running servers keep theirs.
    feast_copy = tmp_path / "feast"
    shutil.copytree(platform.state_dir / "feast", feast_copy, ignore=shutil.ignore_patterns("online_store.db"))
    sqlite = Settings(state_dir=platform.state_dir, feast_repo_path=feast_copy)
    from pydantic import SecretStr

    in_redis = sqlite.model_copy(update={"feast_online_store": "redis", "feast_redis_url": redis_url,
                                         "feast_redis_password": SecretStr(PASSWORD)})  # fmt: skip
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lookups = {}
    for name, settings in (("sqlite", sqlite), ("redis", in_redis)):
        apply_feature_repo(settings)
        materialize_online(settings, end)
        lookups[name] = OnlineFeatures(open_feature_store(settings), FRAUD)

    port = int(redis_url.rsplit(":", 1)[1])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).dbsize()
    assert redis.Redis(port=port, password=PASSWORD).dbsize() > 0, "nothing was materialised into Redis"
    events = pd.read_parquet(platform.state_dir / "data" / "raw" / "events.parquet")
    known = events[["customer_id", "merchant_id"]].drop_duplicates().tail(50)
    unknown = pd.DataFrame({"customer_id": [10_000_001, int(known.iloc[0, 0])], "merchant_id": [7, 10_000_002]})
    batch = pd.concat([known, unknown], ignore_index=True)

    customers, merchants = batch["customer_id"].to_numpy(), batch["merchant_id"].to_numpy()
    from_sqlite, from_redis = (
        lookups["sqlite"].lookup({"customer_id": customers, "merchant_id": merchants}),
        lookups["redis"].lookup({"customer_id": customers, "merchant_id": merchants}),
    )
    in_sqlite, in_redis_frame = pd.DataFrame(from_sqlite.features), pd.DataFrame(from_redis.features)
    pd.testing.assert_frame_equal(in_sqlite, in_redis_frame)
    assert from_redis.unknown == from_sqlite.unknown
    assert from_redis.unknown["customer"] >= 1 and from_redis.unknown["merchant"] >= 1
    # Our lookup (Feast's online-store read without its public wrapper) equals Feast's own call, defaults for None.
    keys = {"customer_id": customers.tolist(), "merchant_id": merchants.tolist()}
    for lookup, looked_up in ((lookups["sqlite"], from_sqlite), (lookups["redis"], from_redis)):
        response = lookup.store.get_online_features(features=lookup.refs, entity_rows=keys, full_feature_names=True)
        as_dict = response.to_dict()
        for column in FEATURE_VIEW_COLUMNS:
            expected = np.array([lookup.default if v is None else v for v in as_dict[column]], dtype=np.float64)
            np.testing.assert_array_equal(looked_up.features[column], expected, err_msg=column)
    assert in_redis_frame.iloc[: len(known)].abs().sum().sum() > 0, "known entities came back empty"
