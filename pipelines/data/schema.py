"""Column names and types of the raw data every part agrees on: events, labels and the model input.

Raw events (one row per card transaction, `events.parquet`):
    event_id: str, unique.  event_timestamp: UTC timestamp.  customer_id, merchant_id: int64.
    amount: float64 > 0.  channel: one of CHANNELS.
Labels (one row per labelled transaction, `labels.parquet`; they arrive late, as chargebacks do):
    event_id: str, refers to an event.  is_fraud: int (0/1).  label_timestamp: UTC timestamp >= the event's.
"""

from __future__ import annotations

from datetime import timedelta

EVENT_ID = "event_id"
EVENT_TIMESTAMP = "event_timestamp"
CUSTOMER_ID = "customer_id"
MERCHANT_ID = "merchant_id"
AMOUNT = "amount"
CHANNEL = "channel"
IS_FRAUD = "is_fraud"
LABEL_TIMESTAMP = "label_timestamp"
UNTIL = "until"  # the end of a span of time a label value was known (EventStore.label_spans)

CHANNELS = ("online", "in_store", "contactless")

# No time the platform stores is older than this: a time before it is a forgery or a unit error (a stamp of
# 1816 was 9999-12-31 wrapped around in nanoseconds, and an hourly feature grid from it took a machine down).
PLATFORM_EPOCH = "2000-01-01T00:00:00+00:00"

# The raw data files in a raw-data folder (the generator writes them, the contract reads them).
EVENTS_FILE = "events.parquet"
LABELS_FILE = "labels.parquet"

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

# The feature views: their names, keys and feature columns are defined here once; feature_repo/ builds the
# Feast objects from them and the model input names them `<view>__<feature>`.
CUSTOMER_STATS = "customer_stats"
MERCHANT_STATS = "merchant_stats"
VIEW_KEYS = {CUSTOMER_STATS: CUSTOMER_ID, MERCHANT_STATS: MERCHANT_ID}
CREATED_TIMESTAMP = "created_timestamp"  # when a feature row was computed (Feast's tie-break)
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

FEATURE_REFS = tuple(f"{view}:{name}" for view, names in VIEW_FEATURES.items() for name in names)


def offline_table(view: str) -> str:
    """Where a view's offline table lives, relative to the Feast repo path: a folder of parquet parts, one per
    entity partition (`pipelines.features.offline_store`); Feast's file source reads the folder as one table."""
    return f"offline/{view}"


def offline_table_columns(view: str) -> dict[str, str]:
    """A view's offline table columns and their types (what a partition without rows writes)."""
    features = {name: "int64" if name in COUNT_FEATURES else "float32" for name in VIEW_FEATURES[view]}
    return {
        VIEW_KEYS[view]: "int64",
        EVENT_TIMESTAMP: "datetime64[ns, UTC]",
        **features,
        CREATED_TIMESTAMP: "datetime64[ns, UTC]",
    }
