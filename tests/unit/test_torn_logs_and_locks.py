"""Logs that survive a torn line, landings whose record survives a crash, and writer locks that stop waiting."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from monitoring.state import MonitorStore
from pipelines.data.event_store import EventStore
from pipelines.data.json_lines import append_line, joined, parse_lines
from pipelines.data.landing_records import LEGACY_LOG
from pipelines.data.storage import Folder
from pipelines.data.writer_lock import WriterLockTimeout, file_lock
from use_cases.fraud import USE_CASE as FRAUD


def test_a_torn_line_is_skipped_with_its_reason_and_the_next_append_starts_its_own_line(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_text(json.dumps({"n": 1}) + "\n" + '{"n": 2, "reason": "cut sho')  # killed mid-write
    append_line(log, {"n": 3})
    records, torn = parse_lines(log.read_text())
    assert records == [{"n": 1}, {"n": 3}], "the record after the fragment is whole"
    assert [(line.line, line.text) for line in torn] == [(2, '{"n": 2, "reason": "cut sho')]
    assert "not JSON" in torn[0].reason
    assert parse_lines("[1, 2]\n\n")[1][0].reason == "not a JSON object (a list)"
    assert joined('{"a": 1}', {"b": 2}) == '{"a": 1}\n{"b": 2}\n' and joined("", {"b": 2}) == '{"b": 2}\n'


def test_the_monitor_reads_its_decisions_past_a_torn_line(tmp_path: Path) -> None:
    store = MonitorStore(tmp_path)
    store.record({"action": "no_trigger"})
    with store.decisions_path.open("a") as handle:
        handle.write('{"action": "trig')
    store.record({"action": "trigger"})
    assert [d["action"] for d in store.decisions()] == ["no_trigger", "trigger"]
    assert [d["action"] for d in store.decisions(1)] == ["trigger"]


def test_a_torn_line_of_the_legacy_landings_log_is_skipped_and_listed_once(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events", tmp_path / "predictions", FRAUD)
    record = {"kind": "events", "source": "lake", "landed_at": "2026-12-01T00:00:00+00:00", "rows": 3,
              "oldest_event": "2026-11-30T10:00:00+00:00", "oldest_label": None}  # fmt: skip
    store.root.write_text(LEGACY_LOG, json.dumps(record) + "\n" + '{"kind": "lab')
    assert [landing.source for landing in store.landings()] == ["lake"]
    assert len(store.landings()) == 1
    [torn] = store.unreadable()
    assert torn.file.endswith(f"{LEGACY_LOG}#line-2") and torn.moved_to is None and "not JSON" in torn.reason


def test_a_bounded_wait_for_a_busy_writer_lock_gives_up_with_a_retry_hint(tmp_path: Path) -> None:
    path = tmp_path / ".event-store.lock"
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with file_lock(path):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait(5)
    try:
        started = time.monotonic()
        busy = "event-store writer lock stayed busy for 0.3 s"
        with pytest.raises(WriterLockTimeout, match=busy) as error, file_lock(path, timeout_s=0.3):
            pass
        assert 0.25 <= time.monotonic() - started < 1.0 and error.value.retry_after_s == 1.0
    finally:
        release.set()
        thread.join()
    with file_lock(path, timeout_s=0.3):
        pass  # free again: taken at once


def test_a_local_listing_skips_hidden_temporaries_and_matches_segment_by_segment(tmp_path: Path) -> None:
    folder = Folder.at(tmp_path)
    for name in ("date=1/part-a.parquet", "date=1/.part-b.parquet.7.tmp", "date=2/part-c.parquet", "x/part-d.parquet"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert folder.files("date=*/part-*.parquet") == ["date=1/part-a.parquet", "date=2/part-c.parquet"]
    assert folder.files("*/part-*.parquet")[-1] == "x/part-d.parquet" and folder.files("nothing/*") == []
