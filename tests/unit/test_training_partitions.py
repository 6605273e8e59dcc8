"""The partitioned training-set join (the `ray` engine's) against Feast's own `get_historical_features` on the
cases where a point-in-time join goes wrong: a row exactly one ttl old (kept) and one second older (dropped),
a row stamped at the very transaction time, two rows of one stamp (the later created wins), an entity with
no rows, and a transaction before any row. Both run here in this process; the Ray run is an integration test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipelines.core.layout import Layout
from pipelines.data.schema import CREATED_TIMESTAMP, EVENT_TIMESTAMP
from pipelines.features.training_partitions import as_of_join
from use_cases.fraud.schema import (
    CARD_VELOCITY,
    CUSTOMER_ID,
    CUSTOMER_STATS,
    FEATURE_HISTORY,
    MERCHANT_ID,
    MERCHANT_STATS,
    MERCHANT_VELOCITY,
    STREAM_VIEW_FEATURES,
    STREAM_VIEW_KEYS,
    VIEW_FEATURES,
    VIEW_KEYS,
    offline_table_columns,
)
from use_cases.fraud.streamed import USE_CASE as FRAUD  # the hourly views and the streamed ones

T0 = pd.Timestamp(datetime(2026, 10, 1, tzinfo=UTC))
BUILT = pd.Timestamp(datetime(2026, 10, 20, tzinfo=UTC))


def _rows(view: str, specs: list[tuple[int, pd.Timestamp, float, pd.Timestamp]]) -> pd.DataFrame:
    """Feature rows (entity, stamp, value of every feature, created)."""
    key = {**VIEW_KEYS, **STREAM_VIEW_KEYS}[view]
    names = {**VIEW_FEATURES, **STREAM_VIEW_FEATURES}[view]
    frame = pd.DataFrame(
        {
            key: [entity for entity, *_ in specs],
            EVENT_TIMESTAMP: [stamp for _, stamp, *_ in specs],
            **{name: [value for *_, value, _ in specs] for name in names},
            CREATED_TIMESTAMP: [created for *_, created in specs],
        }
    )
    return frame.astype(offline_table_columns(view))


def _transactions() -> pd.DataFrame:
    moments = [
        (1, 10, T0 + timedelta(hours=5, minutes=30)),  # latest row at 5h
        (1, 10, T0 + timedelta(hours=5)),  # a row stamped at the very moment
        (4, 11, T0 + FEATURE_HISTORY + timedelta(hours=1)),  # the only (1h) rows are exactly one ttl old
        (4, 11, T0 + FEATURE_HISTORY + timedelta(hours=1, seconds=1)),  # ... and one second too old
        (2, 10, T0 + timedelta(hours=3)),  # two rows share the 2h stamp: the later created wins
        (3, 12, T0 + timedelta(hours=4)),  # a customer and a merchant with no rows at all
        (2, 10, T0 - timedelta(hours=1)),  # before any row
    ]
    return pd.DataFrame(
        {
            "event_id": [f"e{index}" for index in range(len(moments))],
            CUSTOMER_ID: np.array([c for c, _, _ in moments], dtype=np.int64),
            MERCHANT_ID: np.array([m for _, m, _ in moments], dtype=np.int64),
            EVENT_TIMESTAMP: pd.to_datetime([t for *_, t in moments], utc=True).as_unit("ns"),
        }
    )


def _tables() -> dict[str, pd.DataFrame]:
    hour = timedelta(hours=1)
    customer = _rows(
        CUSTOMER_STATS,
        [
            (1, T0 + hour, 1.0, BUILT),
            (1, T0 + 5 * hour, 5.0, BUILT),
            (4, T0 + hour, 4.0, BUILT),
            (2, T0 + 2 * hour, 20.0, BUILT),
            (2, T0 + 2 * hour, 21.0, BUILT + timedelta(minutes=5)),
            (2, T0 + 2 * hour, 19.0, BUILT - timedelta(minutes=5)),
        ],
    )
    merchant = _rows(
        MERCHANT_STATS,
        [(10, T0, 0.5, BUILT), (10, T0 + 4 * hour, 0.25, BUILT), (11, T0 + hour, 0.75, BUILT)],
    )
    # Streamed rows are stamped a microsecond after their latest event: one stamped at a transaction's very
    # instant summarises only what came before it, and is joined.
    micro = timedelta(microseconds=1)
    card = _rows(CARD_VELOCITY, [(1, T0 + 5 * hour, 3.0, BUILT), (1, T0 + 5 * hour + micro, 9.0, BUILT)])
    merchant_velocity = _rows(MERCHANT_VELOCITY, [(10, T0 + 3 * hour, 2.0, BUILT)])
    return {
        CUSTOMER_STATS: customer,
        MERCHANT_STATS: merchant,
        CARD_VELOCITY: card,
        MERCHANT_VELOCITY: merchant_velocity,
    }


def test_the_partitioned_join_matches_feast_on_the_edge_cases(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> None:
    from driftloop.features.apply import apply_feature_repo
    from pipelines.core.settings import Settings
    from pipelines.features.offline_store import offline_table_paths
    from pipelines.features.store import open_feature_store
    from pipelines.features.training_set import point_in_time_features

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    settings = Settings()
    apply_feature_repo(settings)
    tables = _tables()
    for view, table in offline_table_paths(Layout.from_settings(settings).feast_repo, FRAUD).items():
        table.write_parquet(tables[view], "part-00000-of-00001.parquet")
    rows = _transactions()

    streamed = {view: tables[view] for view in (CARD_VELOCITY, MERCHANT_VELOCITY)}  # joined as-of, not by Feast
    feast = point_in_time_features(open_feature_store(settings), rows, FRAUD, streamed)
    ours = rows
    for view, table in tables.items():
        ours = as_of_join(ours, table, FRAUD, view)

    order = ["event_id"]
    feast = feast.sort_values(order).reset_index(drop=True)
    ours = ours.sort_values(order).reset_index(drop=True)[list(feast.columns)]
    pd.testing.assert_frame_equal(ours, feast, check_dtype=False, check_exact=True)
    # And what those cases should give, so agreeing with a wrong Feast would not pass either.
    customer = ours.set_index("event_id")["customer_stats__txn_count_1h"]
    assert customer.to_dict() == pytest.approx(
        {"e0": 5.0, "e1": 5.0, "e2": 4.0, "e3": np.nan, "e4": 21.0, "e5": np.nan, "e6": np.nan}, nan_ok=True
    )
    card = ours.set_index("event_id")["card_velocity__txn_count_5m"]
    assert card.to_dict() == pytest.approx(
        {"e0": 9.0, "e1": 3.0, "e2": np.nan, "e3": np.nan, "e4": np.nan, "e5": np.nan, "e6": np.nan}, nan_ok=True
    )
    merchant = ours.set_index("event_id")["merchant_stats__chargeback_rate_30d"]
    assert merchant.to_dict() == pytest.approx(
        {"e0": 0.25, "e1": 0.25, "e2": 0.75, "e3": np.nan, "e4": 0.5, "e5": np.nan, "e6": np.nan}, nan_ok=True
    )


def test_a_training_set_before_any_feature_build_is_a_one_line_error(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    events = tmp_path / "events.parquet"
    _transactions().to_parquet(events, index=False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update({"DRIFTLOOP_STATE_DIR": str(tmp_path / "state"), "DRIFTLOOP_FEATURE_ENGINE": "ray"})
    command = [str(Path(sys.executable).with_name("driftloop")), "features", "training-set",
               "--events", str(events), "--labels", str(events), "--out", str(tmp_path / "t.parquet")]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    offline = tmp_path / "state" / "feast" / "offline"
    missing = ", ".join(str(offline / view) for view in (CUSTOMER_STATS, MERCHANT_STATS, CARD_VELOCITY))
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no offline feature table at {missing}: run `driftloop features build` first"
    )
    assert not (tmp_path / "t.parquet").exists()
