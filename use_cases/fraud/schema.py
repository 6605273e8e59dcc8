"""The fraud use case's names: its events' and labels' columns, its views and features, its model input.

Declared once here and read by its declaration (`use_cases.fraud`), its world, its features, and the tests and
benches that exercise fraud on purpose; the platform reads them from the declaration, never from here.

Raw events (one row per card transaction, `events.parquet`):
    event_id: str, unique.  event_timestamp: UTC timestamp.  customer_id, merchant_id: int64.
    amount: float64 > 0.  channel: one of CHANNELS.
Labels (one row per labelled transaction, `labels.parquet`; they arrive late, as chargebacks do):
    event_id: str, refers to an event.  is_fraud: int (0/1).  label_timestamp: UTC timestamp >= the event's.
"""

from __future__ import annotations

from datetime import timedelta

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, feature_column

CUSTOMER_ID = "customer_id"
MERCHANT_ID = "merchant_id"
AMOUNT = "amount"
CHANNEL = "channel"
IS_FRAUD = "is_fraud"

CHANNELS = ("online", "in_store", "contactless")

EVENT_COLUMNS: dict[str, str] = {
    EVENT_ID: "string",
    EVENT_TIMESTAMP: "datetime64[ns, UTC]",
    CUSTOMER_ID: "int64",
    MERCHANT_ID: "int64",
    AMOUNT: "float64",
    CHANNEL: "string",
}
LABEL_COLUMNS: dict[str, str] = {
    EVENT_ID: "string",
    IS_FRAUD: "int64",
    LABEL_TIMESTAMP: "datetime64[ns, UTC]",
}

# The largest amount the contract accepts, for landed events and scoring requests alike.
MAX_AMOUNT = 1_000_000.0

# The feature views: their names, keys and feature columns (the declaration builds its views from them; the model
# input names them `<view>__<feature>`).
CUSTOMER_STATS = "customer_stats"
MERCHANT_STATS = "merchant_stats"
VIEW_KEYS = {CUSTOMER_STATS: CUSTOMER_ID, MERCHANT_STATS: MERCHANT_ID}
CUSTOMER_FEATURES = (
    "txn_count_1h",
    "txn_count_24h",
    "amount_sum_24h",
    "amount_mean_7d",
    "amount_max_7d",
    "distinct_merchants_7d",
)
MERCHANT_FEATURES = ("txn_count_24h", "amount_mean_7d", "chargeback_rate_30d")
VIEW_FEATURES = {CUSTOMER_STATS: CUSTOMER_FEATURES, MERCHANT_STATS: MERCHANT_FEATURES}
# The longest feature window: the views' ttl, and the history a training row needs before it is complete.
FEATURE_HISTORY = timedelta(days=7)
COUNT_FEATURES = frozenset({"txn_count_1h", "txn_count_24h", "distinct_merchants_7d"})  # integers; others float

# The streamed views (kept fresh by the stream worker; their aggregates are declared in `use_cases.fraud.streaming`).
CARD_VELOCITY = "card_velocity"
MERCHANT_VELOCITY = "merchant_velocity"
CARD_VELOCITY_FEATURES = (
    "txn_count_5m",
    "amount_sum_5m",
    "txn_count_1h",
    "amount_sum_1h",
    "distinct_merchants_1h",
    "seconds_since_previous",
)
MERCHANT_VELOCITY_FEATURES = ("txn_count_5m", "amount_sum_5m", "txn_count_1h", "amount_sum_1h")
STREAM_VIEW_FEATURES = {CARD_VELOCITY: CARD_VELOCITY_FEATURES, MERCHANT_VELOCITY: MERCHANT_VELOCITY_FEATURES}
STREAM_VIEW_KEYS = {CARD_VELOCITY: CUSTOMER_ID, MERCHANT_VELOCITY: MERCHANT_ID}
STREAM_FLOAT_FEATURES = frozenset({"amount_sum_5m", "amount_sum_1h", "seconds_since_previous"})  # Feast Float64

HOURLY_FEATURE_REFS = tuple(f"{view}:{name}" for view, names in VIEW_FEATURES.items() for name in names)
FEATURE_REFS = HOURLY_FEATURE_REFS + tuple(f"{CARD_VELOCITY}:{name}" for name in CARD_VELOCITY_FEATURES)  # fraud's
STREAMED_FEATURE_REFS = FEATURE_REFS + tuple(
    f"{MERCHANT_VELOCITY}:{name}" for name in MERCHANT_VELOCITY_FEATURES
)  # fraud_streaming's


def offline_table_columns(view: str) -> dict[str, str]:
    """A view's offline table columns and their types (what a partition without rows writes)."""
    if view in STREAM_VIEW_FEATURES:
        features = {n: "float64" if n in STREAM_FLOAT_FEATURES else "int64" for n in STREAM_VIEW_FEATURES[view]}
    else:
        features = {name: "int64" if name in COUNT_FEATURES else "float32" for name in VIEW_FEATURES[view]}
    return {
        {**VIEW_KEYS, **STREAM_VIEW_KEYS}[view]: "int64",
        EVENT_TIMESTAMP: "datetime64[ns, UTC]",
        **features,
        CREATED_TIMESTAMP: "datetime64[ns, UTC]",
    }


# The model's input columns, in the order the model reads them (what the declaration's `model_input` derives).
CUSTOMER_COLUMNS = tuple(feature_column(CUSTOMER_STATS, name) for name in CUSTOMER_FEATURES)
MERCHANT_COLUMNS = tuple(feature_column(MERCHANT_STATS, name) for name in MERCHANT_FEATURES)
HOURLY_COLUMNS = CUSTOMER_COLUMNS + MERCHANT_COLUMNS
CARD_VELOCITY_COLUMNS = tuple(feature_column(CARD_VELOCITY, name) for name in CARD_VELOCITY_FEATURES)
MERCHANT_VELOCITY_COLUMNS = tuple(feature_column(MERCHANT_VELOCITY, name) for name in MERCHANT_VELOCITY_FEATURES)
FEATURE_VIEW_COLUMNS = (
    HOURLY_COLUMNS + CARD_VELOCITY_COLUMNS
)  # fraud's; fraud_streaming's add MERCHANT_VELOCITY_COLUMNS
NUMERIC_COLUMNS = (AMOUNT, *FEATURE_VIEW_COLUMNS)
CATEGORICAL_COLUMNS = (CHANNEL,)
MODEL_INPUT_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
CATEGORIES = {CHANNEL: CHANNELS}
