"""Offline sources: parquet tables written by the feature pipeline.

Paths are relative to the Feast repo path (`DRIFTLOOP_FEAST_REPO_PATH`), so the same definitions work
wherever the state folder lives. `event_timestamp` is when a feature value became known; Feast's
point-in-time join never hands a training row a value stamped after the row's own timestamp.
"""

from feast import FileSource

from pipelines.schema import CREATED_TIMESTAMP, CUSTOMER_STATS, EVENT_TIMESTAMP, MERCHANT_STATS, offline_table

customer_stats_source = FileSource(
    name=f"{CUSTOMER_STATS}_source",
    path=offline_table(CUSTOMER_STATS),
    timestamp_field=EVENT_TIMESTAMP,
    created_timestamp_column=CREATED_TIMESTAMP,
    description="Rolling per-customer aggregates, one row per customer per hour with activity.",
)

merchant_stats_source = FileSource(
    name=f"{MERCHANT_STATS}_source",
    path=offline_table(MERCHANT_STATS),
    timestamp_field=EVENT_TIMESTAMP,
    created_timestamp_column=CREATED_TIMESTAMP,
    description="Rolling per-merchant aggregates, one row per merchant per hour with activity.",
)
