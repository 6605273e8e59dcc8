"""Offline sources: parquet tables written by the feature pipeline.

Locally a source's path is relative to the Feast repo path (`DRIFTLOOP_FEAST_REPO_PATH`), so the same definitions
work wherever the state folder lives; with an object store (`DRIFTLOOP_OBJECT_STORE_URL`) it is the table's
`s3://` prefix and its endpoint, so Feast reads the tables every node writes. `event_timestamp` is when a
feature value became known; Feast's point-in-time join never hands a training row a value stamped after the
row's own timestamp.
"""

from feast import FileSource

from pipelines.data.schema import CREATED_TIMESTAMP, CUSTOMER_STATS, EVENT_TIMESTAMP, MERCHANT_STATS, offline_table

DESCRIPTIONS = {
    CUSTOMER_STATS: "Rolling per-customer aggregates, one row per customer per hour with activity.",
    MERCHANT_STATS: "Rolling per-merchant aggregates, one row per merchant per hour with activity.",
}


def offline_source(view: str, root: str | None = None, endpoint: str | None = None) -> FileSource:
    """The view's offline table as Feast reads it: under `root` (an `s3://` prefix) or the repo path (None)."""
    return FileSource(
        name=f"{view}_source",
        path=offline_table(view) if root is None else f"{root}/{offline_table(view)}",
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        s3_endpoint_override=endpoint,
        description=DESCRIPTIONS[view],
    )
