"""The prediction log under real faults: a predictor SIGKILLed under traffic, and its disk filled up.

Every answered transaction must become an event: a kill may lose at most the rows of one commit interval
(`DRIFTLOOP_PREDICTION_LOG_COMMIT_S`), a full disk must turn the server not-ready and refuse (503) instead of
growing, and once space returns every answered row is stored exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from pipelines.data.prediction_log_format import read_prediction_log
from tests.integration.conftest import MODEL
from tests.integration.local_platform import PlatformUnderTest, spawn_predictor

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"
COMMIT_S = 0.05


def _transaction(event_id: str) -> dict[str, object]:
    return {"instances": [{"customer_id": 3, "merchant_id": 5, "amount": 12.0, "channel": "online",
                           "event_id": event_id}]}  # fmt: skip


def _stored(folder: Path) -> list[str]:
    logged = read_prediction_log(folder / "predictions")
    return list(logged.loc[logged["role"] == "served", "event_id"]) if len(logged) else []


def test_a_sigkill_under_traffic_loses_at_most_one_commit_interval(
    serving: PlatformUnderTest, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    """Five times: 1,000 sequential requests with known event ids, the predictor SIGKILLed part way through
    (at a different point each round), then a new predictor over the same log publishes what the dead one had
    committed. Answered-but-never-stored rows per kill are at most what one commit interval answers."""
    lost_per_kill: list[int] = []
    answered_total: set[str] = set()
    headers = serving.headers("score")
    for round_number in range(5):
        process, url = spawn_predictor(serving, tmp_path, DRIFTLOOP_PREDICTION_LOG_COMMIT_S=str(COMMIT_S))
        kill_after = 200 + 150 * round_number
        answered: list[str] = []
        answered_at: list[float] = []
        with httpx.Client(headers=headers, timeout=5) as http:
            for index in range(1000):
                if index == kill_after:
                    killed_at = time.monotonic()
                    process.send_signal(signal.SIGKILL)
                    process.wait(timeout=30)
                    break
                event_id = f"kill{round_number}-{index}"
                if http.post(url + V1_PATH, json=_transaction(event_id)).status_code == 200:
                    answered.append(event_id)
                    answered_at.append(time.monotonic())
        # The rate in the half second before the kill (what a commit interval answered then), not the round's
        # average: the server answers in bursts while the other test group shares the cores, and a round's average
        # (95 rps once in CI) understates the burst a kill lands in.
        window = min(0.5, killed_at - answered_at[0])
        rate = sum(1 for at in answered_at if at >= killed_at - window) / window
        answered_total.update(answered)
        # The next predictor over the same folders adopts the dead one's segments and publishes them.
        restarted, _ = spawn_predictor(serving, tmp_path, DRIFTLOOP_PREDICTION_LOG_COMMIT_S=str(COMMIT_S))
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not set(answered[:-50]) <= set(_stored(tmp_path)):
                time.sleep(0.5)
        finally:
            restarted.send_signal(signal.SIGTERM)
            restarted.wait(timeout=60)
        stored = _stored(tmp_path)
        assert len(stored) == len(set(stored)), "no answered row is stored twice"
        lost = [event_id for event_id in answered if event_id not in set(stored)]
        assert lost == answered[len(answered) - len(lost) :], "only the newest rows can be lost"
        assert len(lost) <= rate * COMMIT_S * 2 + 2, (len(lost), rate)
        lost_per_kill.append(len(lost))
    record_property("answered_but_lost_per_sigkill", lost_per_kill)
    print(f"\nanswered but never stored per SIGKILL (commit every {COMMIT_S}s): {lost_per_kill}")
    assert len(answered_total) > 2000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 3 MiB tmpfs: a disk that really fills up (needs root, as CI runs)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    folder = tmp_path / "disk"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_turns_the_predictor_not_ready_then_every_answered_row_is_stored_once(
    serving: PlatformUnderTest, small_disk: Path
) -> None:
    process, url = spawn_predictor(
        serving, small_disk, DRIFTLOOP_PREDICTION_LOG_COMMIT_S=str(COMMIT_S),
        DRIFTLOOP_PREDICTION_LOG_MAX_WAITING_ROWS="300", DRIFTLOOP_PREDICTION_LOG_FLUSH_S="0.5",
        DRIFTLOOP_STREAM_URL=f"sqlite:///{small_disk.parent / 'stream.db'}",  # the log's disk fills, not the stream's
    )  # fmt: skip
    filler = small_disk / "filler"
    answered: list[str] = []
    refused = 0
    try:
        memory = psutil.Process(process.pid)
        with httpx.Client(headers=serving.headers("score"), timeout=5) as http:
            for index in range(100):  # the log works
                assert http.post(url + V1_PATH, json=_transaction(f"before-{index}")).status_code == 200
                answered.append(f"before-{index}")
            # Then the disk fills up. Unbuffered: a buffered writer keeps what a failing write could not place and
            # raises ENOSPC again when the block closes it (how far the last chunk got depends on what the log wrote).
            with filler.open("wb", buffering=0) as handle:
                try:
                    while True:
                        handle.write(b"\0" * 65536)
                        handle.flush()
                except OSError:
                    pass
            rss_full = memory.memory_info().rss
            for index in range(2000):
                response = http.post(url + V1_PATH, json=_transaction(f"full-{index}"))
                if response.status_code == 200:
                    answered.append(f"full-{index}")
                else:
                    assert response.status_code == 503 and response.headers["retry-after"] == "1", response.text
                    refused += 1
            assert refused > 1000, "once 300 rows wait, the predictor refuses instead of growing"
            assert http.get(f"{url}/v2/models/{MODEL}/ready").status_code == 503, "and reports not-ready"
            assert http.get(f"{url}/v2/health/live").status_code == 200, "while staying alive"
            assert memory.memory_info().rss - rss_full < 20 * 2**20, "resident memory stays bounded"
            metrics = http.get(f"{url}/metrics").text
            assert "driftloop_prediction_log_refused_requests_total" in metrics
            # A label for an answer that waits in memory: the route asks the server to publish it now, which the
            # full disk refuses; the label waits as for any answer not yet published, then 404 (never a 500).
            waiting = next(event_id for event_id in answered if event_id.startswith("full-"))
            label = http.post(f"{url}/v1/labels", headers=serving.headers("label"),
                              json={"labels": [{"event_id": waiting, "is_fraud": 0}]})  # fmt: skip
            assert label.status_code == 404 and "unknown event_id" in label.text, label.text
            assert http.get(f"{url}/v2/health/live").status_code == 200
            filler.unlink()  # space returns
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and http.get(f"{url}/v2/models/{MODEL}/ready").status_code != 200:
                time.sleep(0.2)
            assert http.post(url + V1_PATH, json=_transaction("after-0")).status_code == 200
            answered.append("after-0")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    stored = _stored(small_disk)
    assert sorted(stored) == sorted(answered), "every answered row, exactly once, and nothing refused"
