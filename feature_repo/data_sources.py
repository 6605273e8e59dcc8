"""Offline sources: parquet tables written by the feature pipeline.

Locally a source's path is relative to the Feast repo path (`DRIFTLOOP_FEAST_REPO_PATH`), so the same definitions
work wherever the state folder lives; with an object store (`DRIFTLOOP_OBJECT_STORE_URL`) it is the table's
`s3://` prefix and its endpoint, so Feast reads the tables every node writes. `event_timestamp` is when a
feature value became known; Feast's point-in-time join never hands a training row a value stamped after the
row's own timestamp.
"""

from __future__ import annotations

from feast import FileSource, PushSource

from pipelines.core.use_case import CREATED_TIMESTAMP, EVENT_TIMESTAMP, FeatureView
from pipelines.data.schema import offline_table


def offline_source(view: FeatureView, root: str | None = None, endpoint: str | None = None) -> FileSource:
    """The view's offline table as Feast reads it: under `root` (an `s3://` prefix) or the repo path (None)."""
    return FileSource(
        name=f"{view.name}_source",
        path=offline_table(view.name) if root is None else f"{root}/{offline_table(view.name)}",
        timestamp_field=EVENT_TIMESTAMP,
        created_timestamp_column=CREATED_TIMESTAMP,
        s3_endpoint_override=endpoint,
        description=view.description,
    )


def push_source(view: FeatureView, batch: FileSource) -> PushSource:
    """A streamed view's push source: the stream worker pushes rows through it into the online store; its batch
    source is the view's offline table, which the refresh writes by replaying the same windows."""
    return PushSource(name=view.push_source, batch_source=batch, description=view.description)
