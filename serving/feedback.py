"""`POST /v1/labels`: late labels (chargebacks, confirmed fraud, settled transactions) sent back over HTTP.

Body: `{"labels": [{"event_id": "...", "is_fraud": 0 or 1, "label_timestamp": "<ISO-8601, optional>"}]}`;
the label time defaults to the time of receipt. A batch lands whole or not at all: a malformed field is a
400 naming it, an event id the platform has never seen is a 404 naming it, a label that breaks the data
contract (e.g. stamped before its transaction) is a 422; a label sent twice is accepted once. Served by
both model servers, so it sits on the inference endpoint a client already knows.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import anyio
import pandas as pd
from fastapi import Request  # resolved by FastAPI from this module's names: not under TYPE_CHECKING
from fastapi.responses import JSONResponse

from driftloop.core.settings import Settings
from pipelines.event_store import event_store_for
from pipelines.schema import EVENT_ID, IS_FRAUD, LABEL_TIMESTAMP, PLATFORM_EPOCH
from serving import metrics
from serving.json_body import NotJson, parse_json
from serving.request_guard import CREDENTIAL_HEADER, LABELS_PATH
from serving.request_schema import lone_surrogate_at

logger = logging.getLogger(__name__)

MAX_LABELS = 10_000
UNKNOWN_EVENT = "labels.event_id.references"


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


def parse_labels(body: Any, now: pd.Timestamp, skew: pd.Timedelta) -> pd.DataFrame:
    """The body as a labels frame (the contract's columns and types), or BadLabels naming the field."""
    if not isinstance(body, dict) or not isinstance(body.get("labels"), list):
        raise BadLabels('labels: expected {"labels": [{"event_id": ..., "is_fraud": 0|1}, ...]}')
    items = body["labels"]
    if not 0 < len(items) <= MAX_LABELS:
        raise BadLabels(f"labels: expected 1 to {MAX_LABELS} labels, got {len(items)}")
    ids, flags, times = [], [], []
    for index, item in enumerate(items):
        where = f"labels[{index}]"
        if not isinstance(item, dict):
            raise BadLabels(f"{where}: expected an object with event_id and is_fraud")
        event_id, flag = item.get(EVENT_ID), item.get(IS_FRAUD)
        if not isinstance(event_id, str) or not 0 < len(event_id) <= 200:
            raise BadLabels(f"{where}.event_id: expected a string of 1 to 200 characters")
        if (position := lone_surrogate_at(event_id)) is not None:
            raise BadLabels(f"{where}.event_id: not valid Unicode (a lone surrogate at position {position})")
        if isinstance(flag, bool) or flag not in (0, 1) or (isinstance(flag, float) and math.isnan(flag)):
            raise BadLabels(f"{where}.is_fraud: must be 0 or 1")
        ids.append(event_id)
        flags.append(int(flag))
        times.append(_label_time(item.get(LABEL_TIMESTAMP), f"{where}.label_timestamp", now, skew))
    return pd.DataFrame({
        EVENT_ID: pd.array(ids, dtype="string"),
        IS_FRAUD: pd.array(flags, dtype="int64"),
        LABEL_TIMESTAMP: pd.DatetimeIndex(times).as_unit("ns"),
    })  # fmt: skip


def receive_labels(settings: Settings, body: Any, credential: str) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for one feedback request; `credential` (the scope the request guard saw) is
    recorded with the landing."""
    from pipelines.landing import land_labels

    now = pd.Timestamp.now(tz="UTC")
    try:
        labels = parse_labels(body, now, pd.Timedelta(seconds=settings.max_clock_skew_s))
    except BadLabels as error:
        metrics.LABELS_RECEIVED.labels("invalid").inc()
        return 400, {"error": str(error)}
    # An answer from a moment ago may still be in a server's log buffer: look again after one flush.
    result = land_labels(
        event_store_for(settings), labels, f"POST /v1/labels by credential {credential}", now,
        wait_for_events_s=2 * settings.prediction_log_flush_s, all_or_nothing=True, trusted_times=False,
    )  # fmt: skip
    if result.rejected_rows:
        unknown = UNKNOWN_EVENT in result.reasons
        metrics.LABELS_RECEIVED.labels("unknown_event" if unknown else "invalid").inc(len(result.rejected_rows))
        named = ", ".join(str(labels[EVENT_ID].iloc[i]) for i in result.rejected_rows[:5])
        what = "unknown event_id" if unknown else "breaks the data contract"
        reasons = ", ".join(sorted(result.reasons))
        message = f"{len(result.rejected_rows)} of {len(labels)} labels rejected ({reasons}): {named}"
        return (404 if unknown else 422), {"error": f"{message}; {what}; nothing was stored"}
    metrics.LABELS_RECEIVED.labels("landed").inc(result.landed)
    metrics.LABELS_RECEIVED.labels("already_present").inc(result.already_present)
    return 200, {"landed": result.landed, "already_present": result.already_present}


def install_label_route(app: Any, settings: Settings) -> None:
    """Add `POST /v1/labels` to a model server's FastAPI app."""

    async def post_labels(request: Request) -> JSONResponse:
        try:
            body = parse_json(await request.body())
        except NotJson as error:
            metrics.LABELS_RECEIVED.labels("invalid").inc()
            return JSONResponse(status_code=400, content={"error": str(error)})
        credential = request.headers.get(CREDENTIAL_HEADER.decode(), "unknown")
        status, content = await anyio.to_thread.run_sync(receive_labels, settings, body, credential)
        return JSONResponse(status_code=status, content=content)

    app.add_api_route(LABELS_PATH, post_labels, methods=["POST"])
