"""Every answered transaction becomes an event: it keeps the caller's `event_id` or gets a new one, and is
stamped with the time the server received it (UTC).

The stamp is taken by the first server a request reaches (the transformer, or the in-process predictor) and
travels with the request, so the event's time is the receipt time wherever it is logged. The id is returned
in the answer, which is how a caller sends a label for it later.
"""

from __future__ import annotations

import uuid

import pandas as pd

from pipelines.schema import EVENT_ID, EVENT_TIMESTAMP

GENERATED_ID_PREFIX = "evt-"


def new_event_id() -> str:
    return f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex}"


def stamp_events(transactions: pd.DataFrame, received_at: pd.Timestamp) -> pd.DataFrame:
    """The transactions with an id and a receipt time on every row (given values are kept)."""
    ids = transactions[EVENT_ID] if EVENT_ID in transactions else pd.Series(None, index=transactions.index)
    missing = ids.isna()
    if missing.any():
        ids = ids.astype(object).copy()
        ids[missing] = [new_event_id() for _ in range(int(missing.sum()))]
    stamps = pd.Series(received_at, index=transactions.index, dtype="datetime64[ns, UTC]")
    if EVENT_TIMESTAMP in transactions:
        given = pd.to_datetime(transactions[EVENT_TIMESTAMP], utc=True, errors="coerce")
        stamps = given.where(given.notna(), stamps).astype("datetime64[ns, UTC]")
    return transactions.assign(**{EVENT_ID: ids.astype(object), EVENT_TIMESTAMP: stamps})


def received_now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")
