"""Every answered row becomes an event: it keeps the caller's `event_id` or gets a new one, and is stamped with
the time the server received it (UTC).

The stamp is taken by the first server a request reaches (the transformer, or the in-process predictor) and
travels with the request, so the event's time is the receipt time wherever it is logged. The id is returned
in the answer, which is how a caller sends a label for it later.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np

from pipelines.data.prediction_log_format import Events
from pipelines.data.schema import EVENT_ID
from serving.request_schema import Columns

GENERATED_ID_PREFIX = "evt-"
UTC_SUFFIXES = ("Z", "+00:00")


def new_event_id() -> str:
    return f"{GENERATED_ID_PREFIX}{uuid.uuid4().hex}"


def received_now() -> np.datetime64:
    return np.datetime64(time.time_ns(), "ns")


class UntrustedTime(ValueError):
    """A forwarded receipt time too far from this server's own clock: the server owns event time, so a caller
    cannot backdate (or postdate) an event that becomes training data."""

    def __init__(self, index: int) -> None:
        super().__init__(f"row {index}: a forwarded receipt time outside the trusted window")
        self.index = index


def stamp_events(
    rows: Columns,
    entity_keys: Sequence[str],
    received_at: np.datetime64,
    given_times: Sequence[object] = (),
    trusted_within: np.timedelta64 = np.timedelta64(0, "s"),
) -> Events:
    """The rows as events, with their `entity_keys` (the use case's), an id and a receipt time on every row:
    given ids are kept, and so are given times (ISO strings in UTC: the transformer's receipt time, forwarded)
    that parse, when they lie within `trusted_within` of this server's own receipt time
    (DRIFTLOOP_MAX_CLOCK_SKEW_S; by default none is trusted); one outside it raises UntrustedTime. The rest get
    new ids and `received_at`."""
    size = len(rows[entity_keys[0]])
    given_ids = rows.get(EVENT_ID)
    ids = np.empty(size, dtype=object)
    for index in range(size):
        value = None if given_ids is None else given_ids[index]
        ids[index] = value if isinstance(value, str) else new_event_id()
    received = np.full(size, received_at, dtype="datetime64[ns]")
    for index, value in enumerate(given_times):
        parsed = _parse_utc(value)
        if parsed is None:
            continue
        if abs(parsed - received_at.astype("datetime64[us]")) > trusted_within:
            raise UntrustedTime(index)
        received[index] = parsed
    entity_ids = {key: np.asarray(rows[key], dtype=np.int64) for key in entity_keys}
    return Events(entity_ids, ids, received)


def _parse_utc(value: object) -> np.datetime64 | None:
    """An ISO time in UTC (`...Z` or `...+00:00`) in microseconds (wide enough for year 9999: nanoseconds
    would wrap around silently), or None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    for suffix in UTC_SUFFIXES:
        if value.endswith(suffix):
            try:
                return np.datetime64(value[: -len(suffix)], "us")
            except ValueError:
                return None
    return None
