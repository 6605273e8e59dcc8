"""Column names and types of the raw data every part agrees on: events, labels and the model input.

Raw events (one row per card transaction, `events.parquet`):
    event_id: str, unique.  event_timestamp: UTC timestamp.  customer_id, merchant_id: int64.
    amount: float64 > 0.  channel: one of CHANNELS.
Labels (one row per labelled transaction, `labels.parquet`; they arrive late, as chargebacks do):
    event_id: str, refers to an event.  is_fraud: int (0/1).  label_timestamp: UTC timestamp >= the event's.
"""

from __future__ import annotations

EVENT_ID = "event_id"
EVENT_TIMESTAMP = "event_timestamp"
CUSTOMER_ID = "customer_id"
MERCHANT_ID = "merchant_id"
AMOUNT = "amount"
CHANNEL = "channel"
IS_FRAUD = "is_fraud"
LABEL_TIMESTAMP = "label_timestamp"

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

# Feature view columns (see feature_repo/feature_views.py), as `<view>__<feature>` in the model input.
CUSTOMER_FEATURES = (
    "txn_count_1h",
    "txn_count_24h",
    "amount_sum_24h",
    "amount_mean_7d",
    "amount_max_7d",
    "distinct_merchants_7d",
)
MERCHANT_FEATURES = ("txn_count_24h", "amount_mean_7d", "chargeback_rate_30d")

FEATURE_REFS = tuple(f"customer_stats:{name}" for name in CUSTOMER_FEATURES) + tuple(
    f"merchant_stats:{name}" for name in MERCHANT_FEATURES
)
