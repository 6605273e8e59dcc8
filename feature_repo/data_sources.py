"""Offline sources: parquet tables written by the feature pipeline.

Paths are relative to the Feast repo path (`DRIFTLOOP_FEAST_REPO_PATH`), so the same definitions work
wherever the state folder lives. `event_timestamp` is when a feature value became known; Feast's
point-in-time join never hands a training row a value stamped after the row's own timestamp.
"""

from feast import FileSource

customer_stats_source = FileSource(
    name="customer_stats_source",
    path="offline/customer_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
    description="Rolling per-customer aggregates, one row per customer per hour with activity.",
)

merchant_stats_source = FileSource(
    name="merchant_stats_source",
    path="offline/merchant_stats.parquet",
    timestamp_field="event_timestamp",
    created_timestamp_column="created_timestamp",
    description="Rolling per-merchant aggregates, one row per merchant per hour with activity.",
)
