"""`POST /v1/labels`: late labels (fraud's chargebacks, delivery's handover times) sent back over HTTP.

Body: `{"labels": [{"event_id": "...", "<label>": <value>, "label_timestamp": "<ISO-8601, optional>"}]}`, the
label named and typed as the use case declares it (a 0/1 class or a number in its domain);
the label time defaults to the time of receipt. A batch lands whole or not at all: a malformed field is a
400 naming it, an event id the platform has never seen is a 404 naming it, a label that breaks the data
contract (e.g. stamped before its transaction) is a 422; a label sent twice is accepted once. Served by
both model servers, so it sits on the inference endpoint a client already knows.

A request's cost does not grow with the store's history: its events and labels are looked up in the process's
index (`pipelines.data.event_index`). An event answered a moment ago may not be published yet: for ids it does not
know, the route looks again for up to DRIFTLOOP_LABEL_EVENT_WAIT_S, sleeping on the event loop (no worker
thread, no lock held), and lands as soon as they appear. When another writer holds the store longer than
DRIFTLOOP_WRITER_LOCK_TIMEOUT_S, the answer is 503 with Retry-After and nothing lands.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import numpy as np
import pandas as pd
from fastapi import Request  # resolved by FastAPI from this module's names: not under TYPE_CHECKING
from fastapi.responses import JSONResponse

from pipelines.core.settings import Settings
from pipelines.core.use_case import EVENT_ID, LABEL_TIMESTAMP, Label, load_use_case
from pipelines.data.event_index import index_for
from pipelines.data.event_store import event_store_for
from pipelines.data.landing import land_labels, unknown_events
from pipelines.data.schema import PLATFORM_EPOCH
from pipelines.data.writer_lock import WriterLockTimeout
from serving import metrics
from serving.json_body import NotJson, parse_json
from serving.request_guard import CREDENTIAL_HEADER, LABELS_PATH
from serving.request_schema import lone_surrogate_at

logger = logging.getLogger(__name__)

MAX_LABELS = 10_000
UNKNOWN_EVENT = "labels.event_id.references"
WAIT_POLL_S = 0.2  # how often a request waiting for its events looks again
Answer = tuple[int, dict[str, Any], dict[str, str]]  # HTTP status, JSON body, headers


class BadLabels(ValueError):
    """A request body that is not a list of labels; the message names the field."""


def _label_time(value: Any, where: str, now: pd.Timestamp, skew: pd.Timedelta) -> pd.Timestamp:
    """The label's business time: between the platform's epoch and now (plus the allowed clock skew).

    Parsed by the standard library's ISO-8601 reader, not pandas': pandas also reads "now", "today" and "NaT",
    and its nanosecond range (1677 to 2262) made a valid year such as 0001 or 2999 an error of its own. Compared
    as a plain datetime first, so only a time within the bounds ever becomes a pandas timestamp."""
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > 64:
        raise BadLabels(f"{where}: expected an ISO-8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise BadLabels(f"{where}: not an ISO-8601 time ({error})") from error
    out_of_bounds = BadLabels(f"{where}: must lie between {PLATFORM_EPOCH} and now (the server's clock, +{skew})")
    try:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError as error:  # year 1 or 9999 moved across midnight into UTC
        raise out_of_bounds from error
    if not datetime.fromisoformat(PLATFORM_EPOCH) <= moment <= (now + skew).to_pydatetime():
        raise out_of_bounds
    return pd.Timestamp(moment)


def _label_value(value: Any, label: Label, where: str) -> float | int:
    """A label's value as the use case declares it: 0 or 1 for a classifier, a finite number in its domain for a
    regression; or BadLabels naming the field."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
    ):
        wanted = "0 or 1" if label.kind == "binary" else "a finite number"
        raise BadLabels(f"{where}.{label.name}: must be {wanted}")
    if label.kind == "binary":
        if value not in (0, 1):
            raise BadLabels(f"{where}.{label.name}: must be 0 or 1")
        return int(value)
    low, high = label.minimum, label.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadLabels(f"{where}.{label.name}: must lie in [{low}, {high}]")
    return float(value)


def parse_labels(body: Any, now: pd.Timestamp, skew: pd.Timedelta, label: Label) -> pd.DataFrame:
    """The body as a labels frame (the contract's columns and types), or BadLabels naming the field."""
    example = "0|1" if label.kind == "binary" else "<number>"
    if not isinstance(body, dict) or not isinstance(body.get("labels"), list):
        raise BadLabels(f'labels: expected {{"labels": [{{"event_id": ..., "{label.name}": {example}}}, ...]}}')
    items = body["labels"]
    if not 0 < len(items) <= MAX_LABELS:
        raise BadLabels(f"labels: expected 1 to {MAX_LABELS} labels, got {len(items)}")
    ids: list[str] = []
    values: list[float | int] = []
    times: list[pd.Timestamp] = []
    for index, item in enumerate(items):
        where = f"labels[{index}]"
        if not isinstance(item, dict):
            raise BadLabels(f"{where}: expected an object with event_id and {label.name}")
        event_id = item.get(EVENT_ID)
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
            raise BadLabels(f"{where}.event_id: expected a string of 1 to 200 characters")
        if (position := lone_surrogate_at(event_id)) is not None:
            raise BadLabels(f"{where}.event_id: not valid Unicode (a lone surrogate at position {position})")
        ids.append(event_id)
        values.append(_label_value(item.get(label.name), label, where))
        times.append(_label_time(item.get(LABEL_TIMESTAMP), f"{where}.label_timestamp", now, skew))
    return pd.DataFrame(
        {
            EVENT_ID: pd.array(ids, dtype="string"),
            label.name: np.asarray(values, dtype=label.dtype),
            LABEL_TIMESTAMP: pd.DatetimeIndex(times).as_unit("ns"),
        }
    )


def event_wait_s(settings: Settings) -> float:
    """How long a request waits for events it does not know yet (by default, two prediction-log flushes)."""
    wait = settings.label_event_wait_s
    return 2 * settings.prediction_log_flush_s if wait is None else wait


def parsed_labels(settings: Settings, body: Any, now: pd.Timestamp) -> pd.DataFrame | Answer:
    """The body's labels, or the 400 answer naming the field that is wrong."""
    try:
        label = load_use_case(settings.use_case).label
        return parse_labels(body, now, pd.Timedelta(seconds=settings.max_clock_skew_s), label)
    except BadLabels as error:
        metrics.LABELS_RECEIVED.labels("invalid").inc()
        return 400, {"error": str(error)}, {}


def land_parsed(settings: Settings, labels: pd.DataFrame, credential: str, now: pd.Timestamp) -> Answer:
    """Land parsed labels (the credential, the scope the request guard saw, is recorded with the landing)."""
    try:
        result = land_labels(
            event_store_for(settings), labels, f"POST /v1/labels by credential {credential}", now,
            all_or_nothing=True, trusted_times=False,
        )  # fmt: skip
    except WriterLockTimeout as error:
        metrics.LABELS_RECEIVED.labels("busy").inc(len(labels))
        return (
            503,
            {"error": f"{error.message}; nothing was stored"},
            {"Retry-After": str(math.ceil(error.retry_after_s))},
        )
    if result.rejected_rows:
        unknown = UNKNOWN_EVENT in result.reasons
        metrics.LABELS_RECEIVED.labels("unknown_event" if unknown else "invalid").inc(len(result.rejected_rows))
        named = ", ".join(str(labels[EVENT_ID].iloc[i]) for i in result.rejected_rows[:5])
        what = "unknown event_id" if unknown else "breaks the data contract"
        reasons = ", ".join(sorted(result.reasons))
        message = f"{len(result.rejected_rows)} of {len(labels)} labels rejected ({reasons}): {named}"
        return (404 if unknown else 422), {"error": f"{message}; {what}; nothing was stored"}, {}
    metrics.LABELS_RECEIVED.labels("landed").inc(result.landed)
    metrics.LABELS_RECEIVED.labels("already_present").inc(result.already_present)
    return 200, {"landed": result.landed, "already_present": result.already_present}, {}


def receive_labels(settings: Settings, body: Any, credential: str) -> Answer:
    """One feedback request without waiting for unknown events: what the route does once they are known (or
    its wait is over)."""
    now = pd.Timestamp.now(tz="UTC")
    labels = parsed_labels(settings, body, now)
    return labels if isinstance(labels, tuple) else land_parsed(settings, labels, credential, now)


async def receive_labels_waiting(
    settings: Settings, body: Any, credential: str, publish_answers: Callable[[], None] | None = None
) -> Answer:
    """One feedback request: parse, wait (on the event loop) for events not published yet, land.
    `publish_answers` publishes this server's unpublished answers now (its prediction log's open segment), once,
    when the request names events the store does not know yet: they may be answers of this server."""
    now = pd.Timestamp.now(tz="UTC")
    labels = await anyio.to_thread.run_sync(parsed_labels, settings, body, now)
    if isinstance(labels, tuple):
        return labels
    deadline = time.monotonic() + event_wait_s(settings)
    store = event_store_for(settings)
    while time.monotonic() < deadline:
        unknown = await anyio.to_thread.run_sync(unknown_events, store, labels[EVENT_ID])
        if unknown.empty:
            break
        if publish_answers is not None:  # they are published when it returns: look again at once
            await anyio.to_thread.run_sync(publish_answers)
            publish_answers = None
            continue
        await anyio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
    return await anyio.to_thread.run_sync(land_parsed, settings, labels, credential, now)


def _warm_up(settings: Settings) -> None:
    """Build this process's event index before the first label request needs it."""
    try:
        read = index_for(event_store_for(settings)).catch_up()
        logger.info("event index ready (%d parts read)", read)
    except Exception:  # noqa: BLE001 - the first request builds it instead
        logger.exception("event index warm-up failed; the first label request builds it")


def install_label_route(app: Any, settings: Settings, publish_answers: Callable[[], None] | None = None) -> None:
    """Add `POST /v1/labels` to a model server's FastAPI app (and build the event index in the background);
    `publish_answers` publishes the server's own unpublished answers (`receive_labels_waiting`)."""

    async def post_labels(request: Request) -> JSONResponse:
        try:
            body = parse_json(await request.body())
        except NotJson as error:
            metrics.LABELS_RECEIVED.labels("invalid").inc()
            return JSONResponse(status_code=400, content={"error": str(error)})
        credential = request.headers.get(CREDENTIAL_HEADER.decode(), "unknown")
        status, content, headers = await receive_labels_waiting(settings, body, credential, publish_answers)
        return JSONResponse(status_code=status, content=content, headers=headers)

    app.add_api_route(LABELS_PATH, post_labels, methods=["POST"])
    threading.Thread(target=_warm_up, args=(settings,), name="event-index-warm-up", daemon=True).start()
