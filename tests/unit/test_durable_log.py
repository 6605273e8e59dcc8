"""The prediction log's durability as pure logic on a real disk: segments survive a torn tail, a dead process's
segments are adopted, publishing twice never duplicates, and the buffer is bounded (the kills, the full disk
and the HTTP answers are in tests/integration/test_prediction_log_faults.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from pipelines.data.prediction_log_format import (
    Events,
    PendingRows,
    log_frame,
    log_table,
    read_prediction_log,
    served_event_mask,
    served_event_rows,
)
from serving import log_segments as segments
from serving.prediction_log import PredictionLog


def _rows(first: int, n: int, hour: str = "2026-11-24 10:00") -> pd.DataFrame:
    return pd.DataFrame({
        "event_id": [f"e-{i}" for i in range(first, first + n)],
        "prediction": [0.5] * n,
        "role": "served",
        "logged_at": pd.Timestamp(hour, tz="UTC") + pd.to_timedelta(range(n), unit="s"),
    })  # fmt: skip


def test_a_torn_tail_keeps_every_whole_record(tmp_path: Path) -> None:
    writer = segments.SegmentWriter(tmp_path)
    for first in (0, 10, 20):
        writer.append(segments.encode(_rows(first, 10)))
    path = writer.open_path
    assert path is not None
    with path.open("ab") as handle:
        handle.write(segments.encode(_rows(30, 10))[:-7])  # a kill in the middle of a write
    contents = segments.read_segment(path)
    assert [record.num_rows for record in contents.records] == [10, 10, 10] and contents.torn_bytes > 0
    whole = contents.frame()
    assert whole is not None and list(whole["event_id"]) == [f"e-{i}" for i in range(30)]
    expected = pd.concat([record.to_pandas() for record in contents.records], ignore_index=True)
    pd.testing.assert_frame_equal(whole, expected)  # one conversion, the same frame as one per record
    corrupt = bytearray(path.read_bytes())
    corrupt[segments.HEADER.size + 5] ^= 0xFF  # a flipped bit in the first record: nothing after it is trusted
    path.write_bytes(bytes(corrupt))
    assert segments.read_segment(path).records == [] and segments.read_segment(path).frame() is None


def test_a_dead_processes_segments_are_published_once_by_the_next(tmp_path: Path) -> None:
    """A process appends and commits, then dies by SIGKILL (its lock goes with it); the next log over the same
    segments folder publishes what was committed, and publishing the same segment again (a crash between
    writing the parts and removing the segment) replaces the same parts."""
    script = f"""
import os, signal, sys
sys.path[:0] = {sys.path!r}
import pandas as pd
from serving.prediction_log import PredictionLog
from tests.unit.test_durable_log import _rows
log = PredictionLog({str(tmp_path)!r}, flush_s=3600, commit_s=3600).start()
log.append(_rows(0, 7)); log.commit()
log.append(_rows(7, 5, "2026-11-24 11:00")); log.commit()
log.append(_rows(12, 3))  # never committed: lost with the process
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2], capture_output=True)
    assert result.returncode == -9, result.stderr.decode()[-2000:]
    (orphan,) = [p for p in (tmp_path / ".segments").iterdir() if not p.name.startswith(".")]
    (open_segment,) = orphan.glob("*.open")
    kept = tmp_path / "kept.open"
    shutil.copy(open_segment, kept)

    log = PredictionLog(tmp_path, flush_s=3600, commit_s=3600).start()
    assert log.publish() == 12
    assert not orphan.exists(), "the adopted folder is retired once published"
    first = read_prediction_log(tmp_path)
    assert sorted(first["event_id"]) == sorted(f"e-{i}" for i in range(12))

    orphan.mkdir()  # the same segment again, as if the first publish had died before removing it
    shutil.copy(kept, orphan / open_segment.name)
    assert log.publish() == 12
    again = read_prediction_log(tmp_path)
    assert len(again) == 12 and again["event_id"].is_unique, "published twice, stored once"
    log.close()


def test_the_buffer_is_bounded_and_a_commit_frees_it(tmp_path: Path) -> None:
    log = PredictionLog(tmp_path, flush_s=3600, commit_s=3600, max_waiting_rows=10).start()
    log.append(_rows(0, 6))
    assert log.accepting()
    log.append(_rows(6, 4))
    assert not log.accepting(), "ten rows wait: the server must refuse before scoring more"
    assert log.commit() == 10 and log.accepting()
    log.close()
    assert len(read_prediction_log(tmp_path)) == 10
    assert not any((tmp_path / ".segments").iterdir()), "a clean close leaves no segment behind"


def test_a_live_processes_folder_is_never_adopted(tmp_path: Path) -> None:
    first = PredictionLog(tmp_path, flush_s=3600, commit_s=3600).start()
    second = PredictionLog(tmp_path, flush_s=3600, commit_s=3600).start()
    first.append(_rows(0, 4))
    first.commit()
    assert second.publish() == 0, "the first log still holds its folder"
    first.close()
    second.close()
    assert len(read_prediction_log(tmp_path)) == 4
    assert os.listdir(tmp_path / ".segments") == []


def test_records_whose_types_differ_still_read_back_as_one_frame(tmp_path: Path) -> None:
    """A segment's records are converted to pandas at once; records whose column types do not line up (an
    all-missing column, a column that changed type) read back as converting them one by one would."""
    writer = segments.SegmentWriter(tmp_path)
    writer.append(segments.encode(pd.DataFrame({"event_id": ["a"], "note": [None], "x": [1]})))
    writer.append(segments.encode(pd.DataFrame({"event_id": ["b"], "note": ["late"], "x": [2]})))
    writer.append(segments.encode(pd.DataFrame({"event_id": ["c"], "note": ["again"], "x": ["three"]})))
    assert writer.open_path is not None
    contents = segments.read_segment(writer.open_path)
    whole = contents.frame()
    assert whole is not None
    expected = pd.concat([record.to_pandas() for record in contents.records], ignore_index=True)
    pd.testing.assert_frame_equal(whole, expected)
    assert list(whole["x"]) == [1, 2, "three"] and list(whole["note"]) == [None, "late", "again"]


def _requests(n: int) -> list[PendingRows]:
    """Requests as the scorer leaves them: served with events, a shadow copy, and one without entity ids."""
    received = np.datetime64("2026-12-06T10:00:00.123456", "ns")
    pending = []
    for index in range(n):
        inputs = {"amount": np.array([float(index), 2.5]), "channel": np.array(["online", "pos"], dtype=object)}
        events = Events(
            {"customer_id": np.array([index, 9]), "merchant_id": np.array([3, 4])},
            np.array([f"e-{index}", None], dtype=object),
            np.array([received, received + np.timedelta64(1, "s")]),
        )
        role = "shadow" if index % 3 == 2 else "served"
        logged_at, keys = 1_765_015_200.123456 + index, ("customer_id", "merchant_id")
        scores = np.array([0.25, 0.75])
        pending.append(
            PendingRows(
                inputs, events if index % 4 else None, scores, "3", "champion", role, f"r-{index}", logged_at, keys
            )
        )
    return pending


def test_a_commit_of_requests_builds_no_frame_and_reads_back_as_the_logs_frame(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's commits go from the requests' arrays to Arrow without pandas; what a reader gets back is the
    frame pandas would have written (types, missing ids and times, pandas metadata), and the listener hears
    the same rows."""
    heard: list[object] = []
    log = PredictionLog(tmp_path, flush_s=3600, commit_s=3600, listener=heard.append).start()
    batch = _requests(12)
    for rows in batch[:6]:
        log.append(rows)
    assert log.commit() == 12  # the first commit of these columns derives their Arrow schema from a frame, once
    for rows in batch[6:]:
        log.append(rows)

    def no_frames(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a DataFrame was built on the commit path")

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "__init__", no_frames)
        assert log.commit() == 12
    assert log._writer is not None and log._writer.open_path is not None
    records = segments.read_segment(log._writer.open_path).records
    expected = log_frame(PendingRows.batch_columns(batch))
    schema = pa.Table.from_pandas(expected, preserve_index=False).schema
    assert len(records) == 2 and all(record.schema.equals(schema, check_metadata=True) for record in records)
    read_back = pd.concat([record.to_pandas() for record in records], ignore_index=True)
    pd.testing.assert_frame_equal(read_back, expected)
    assert str(read_back["event_id"].dtype) == "string" and read_back["event_id"].isna().sum() == 15
    assert read_back["logged_at"].iloc[0] == pd.Timestamp("2025-12-06T10:00:00.123456Z")
    assert read_back["customer_id"].tolist()[:2] == [-1, -1], "a request without events: no entity ids"
    log.close()
    heard_arrays = [rows for rows in heard if not isinstance(rows, pd.DataFrame)]
    assert len(heard_arrays) == 2, "the listener hears each commit's arrays"
    heard_rows = pd.concat([log_frame(columns) for columns in heard_arrays], ignore_index=True)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(heard_rows, expected)
    assert len(read_prediction_log(tmp_path)) == 24


def test_the_served_events_of_arrays_and_of_a_frame_are_the_same_rows() -> None:
    """The listener hears a commit's arrays, or a dead process's segment as a frame: the same events either way."""
    columns = PendingRows.batch_columns(_requests(12))
    frame = log_frame(columns)
    keys = ("customer_id", "merchant_id")
    mask = served_event_mask(columns, keys)
    assert mask.tolist() == served_event_mask(frame, keys).tolist()
    pd.testing.assert_frame_equal(served_event_rows(frame, keys), frame[mask])
    assert mask.sum() == 6, "served, with events and an event id: the first rows of requests 1, 3, 6, 7, 9, 10"


def test_a_first_batch_of_missing_values_does_not_decide_the_type_of_later_ones() -> None:
    """A text column with nothing but missing values in the first batch of its layout is Arrow's null type there;
    later batches with text in it, or a batch whose values its layout's type cannot hold, still encode, each as
    pandas would have."""
    first = {"note": np.array([None, None], dtype=object), "x": np.array([1.0, 2.0])}
    later = {"note": np.array(["late", None], dtype=object), "x": np.array([3.0, 4.0])}
    changed = {"note": np.array([5, 6], dtype=object), "x": np.array([5.0, 6.0])}
    for columns in (first, later, later, changed):
        through_pandas = pa.Table.from_pandas(log_frame(columns), preserve_index=False)
        pd.testing.assert_frame_equal(log_table(columns).to_pandas(), through_pandas.to_pandas())
    assert str(log_table(later).schema.field("note").type) == "string"
