"""The model server's side of the stream: what its prediction log commits reaches the stream as events (served
answers with an event only, with when each was answered), and a use case without streamed views streams nothing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.core.settings import Settings
from pipelines.data.prediction_log_format import LOGGED_AT, ROLE, SERVED, SHADOW
from pipelines.streaming.records import ANSWERED_US, TIME_US, StreamRoutes, decode
from pipelines.streaming.sqlite_stream import SqliteStream
from serving.answer_stream import answer_stream
from serving.prediction_log import PredictionLog
from use_cases.fraud.streamed import USE_CASE as STREAMING


def _answers() -> pd.DataFrame:
    at = pd.Timestamp("2026-12-05T10:00:00.123456Z")
    return pd.DataFrame(
        {
            "event_id": ["a", "b", "a", None],
            "event_timestamp": [at, at + pd.Timedelta(seconds=1), at, at],
            "customer_id": [7, 8, 7, -1],  # the last: answered without entity ids (a feature request)
            "merchant_id": [3, 3, 3, -1],
            "amount": [12.5, 3.0, 12.5, 1.0],
            "channel": ["online", "online", "online", "online"],
            "prediction": [0.1, 0.2, 0.3, 0.4],
            ROLE: [SERVED, SERVED, SHADOW, SERVED],  # the third: the challenger's shadow answer of `a`
            LOGGED_AT: [at + pd.Timedelta(milliseconds=5)] * 4,
        }
    )


def test_what_the_log_commits_reaches_the_stream_once_per_served_event(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, use_case=STREAMING.name, stream_url=f"sqlite:///{tmp_path / 's.db'}")
    log = PredictionLog(tmp_path / "log", flush_s=60, listener=answer_stream(settings, STREAMING)).start()
    log.append(_answers())
    log.close()  # commits, publishes, and lets the listener hear the last batch before it returns
    stream = SqliteStream(tmp_path / "s.db")
    routes = StreamRoutes.of(STREAMING, settings.stream_partitions)
    records = [record for name in routes.owned(0, 1) for record in stream.retained(name)]
    events = sorted((decode(record.payload)["event_id"], record.stream) for record in records)
    # a and b, each on its card's and its merchant's partition; not the shadow answer, not the id-less one
    assert events == [
        ("a", f"customer.{7 % 8}"),
        ("a", "merchant.3"),
        ("b", f"customer.{8 % 8}"),
        ("b", "merchant.3"),
    ]
    first = decode(next(r.payload for r in records if decode(r.payload)["event_id"] == "a"))
    assert first[TIME_US] == pd.Timestamp("2026-12-05T10:00:00.123456Z").value // 1000
    assert first[ANSWERED_US] == pd.Timestamp("2026-12-05T10:00:00.128456Z").value // 1000
    assert (first["amount"], first["channel"]) == (12.5, "online")


def test_a_use_case_without_streamed_views_streams_nothing(tmp_path: Path) -> None:
    from use_cases.delivery import USE_CASE as HOURLY

    assert answer_stream(Settings(state_dir=tmp_path), HOURLY) is None


def test_a_commits_arrays_reach_the_stream_as_their_frame_would(tmp_path: Path) -> None:
    """The server's commits hand the listener arrays, a dead process's segment hands it a frame: the same rows
    give the same records on the same streams."""
    from pipelines.data.prediction_log_format import PendingRows, log_frame
    from tests.unit.test_durable_log import _requests

    def published(name: str, rows: object) -> list[tuple[str, dict[str, object]]]:
        settings = Settings(state_dir=tmp_path, use_case=STREAMING.name, stream_url=f"sqlite:///{tmp_path / name}")
        listener = answer_stream(settings, STREAMING)
        assert listener is not None
        listener(rows)  # type: ignore[arg-type]
        routes = StreamRoutes.of(STREAMING, settings.stream_partitions)
        stream = SqliteStream(tmp_path / name)
        records = [(r.stream, decode(r.payload)) for s in routes.owned(0, 1) for r in stream.retained(s)]
        return sorted(records, key=lambda record: (record[0], str(record[1]["event_id"])))

    columns = PendingRows.batch_columns(_requests(12))
    from_arrays, from_frame = published("arrays.db", columns), published("frame.db", log_frame(columns))
    assert from_arrays == from_frame and len(from_arrays) == 12, "six served events, each on two streams"
    assert {type(event["amount"]) for _, event in from_arrays} == {float}
