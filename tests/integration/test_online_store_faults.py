"""A real Redis online store that stops answering: frozen (SIGSTOP, a black hole: connections are accepted and
nothing comes back) and killed. The transformer keeps its health cheap, answers each request within the
online store's bound (503 with Retry-After, or flagged defaults when the operator chose them), reports not-ready
while the store is gone, and ready again when it returns. The in-process predictor (the chart's default), which
looks features up on its event loop, asks a hung store at most once a second: the other requests are refused at
once instead of each holding the loop for the store's timeout."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import MODEL, REDIS_PASSWORD
from tests.integration.local_platform import PlatformUnderTest, spawn_predictor, spawn_transformer

pytestmark = pytest.mark.integration

V1_PATH = f"/v1/models/{MODEL}:predict"
TIMEOUT_S = 0.25
TRANSACTION = {"instances": [{"customer_id": 3, "merchant_id": 5, "amount": 20.0, "channel": "online"}]}


def _redis_pid(port: int) -> int:
    import psutil

    (process,) = [
        p for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "redis-server" and str(port) in " ".join(p.info["cmdline"] or [])
    ]  # fmt: skip
    return int(process.pid)


def _timed(call: object) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call()  # type: ignore[operator]
    return response, time.perf_counter() - started


def _with_redis(serving: PlatformUnderTest, redis_url: str, policy: str) -> dict[str, str]:
    return {
        "DRIFTLOOP_FEAST_ONLINE_STORE": "redis", "DRIFTLOOP_FEAST_REDIS_URL": redis_url,
        "DRIFTLOOP_FEAST_REDIS_PASSWORD": REDIS_PASSWORD, "DRIFTLOOP_ONLINE_STORE_TIMEOUT_S": str(TIMEOUT_S),
        "DRIFTLOOP_ONLINE_STORE_DOWN_POLICY": policy,
    }  # fmt: skip


@contextmanager
def _transformer_over(
    serving: PlatformUnderTest, redis_url: str, tmp_path: Path, policy: str
) -> Iterator[tuple[httpx.Client, str, int]]:
    """A transformer of its own reading this Redis with `policy`; a scoring client; the Redis server's pid."""
    process, url = spawn_transformer(serving, tmp_path, **_with_redis(serving, redis_url, policy))
    try:
        with httpx.Client(headers=serving.headers("score"), timeout=5) as http:
            yield http, url, _redis_pid(int(redis_url.rsplit(":", 1)[1]))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_a_frozen_then_killed_redis_fails_closed_fast_and_readiness_follows(
    serving: PlatformUnderTest, redis_url: str, tmp_path: Path
) -> None:
    with _transformer_over(serving, redis_url, tmp_path, "fail_closed") as (http, url, redis_pid):
        answer = http.post(url + V1_PATH, json=TRANSACTION)
        assert answer.status_code == 200 and "degraded" not in answer.json()
        os.kill(redis_pid, signal.SIGSTOP)  # a black hole
        try:
            refused, took = _timed(lambda: http.post(url + V1_PATH, json=TRANSACTION))
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1", refused.text
            assert "online store" in refused.json()["error"]
            assert took < TIMEOUT_S + 0.5, f"answered after {took:.2f} s"
            with ThreadPoolExecutor(1) as background, httpx.Client() as probe:
                waiting = background.submit(http.post, url + V1_PATH, json=TRANSACTION)  # a lookup hangs...
                time.sleep(0.05)
                for _ in range(3):  # ...while the event loop stays free: health answers at once
                    live, took = _timed(lambda: probe.get(url + "/v2/health/live"))
                    assert live.status_code == 200 and took < 0.1, took
                assert not waiting.done() or waiting.result().status_code == 503
                assert waiting.result().status_code == 503
            deadline = time.monotonic() + 10
            while http.get(f"{url}/v2/models/{MODEL}/ready").status_code != 503:
                assert time.monotonic() < deadline, "readiness never went false"
                time.sleep(0.2)
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        deadline = time.monotonic() + 10
        while http.get(f"{url}/v2/models/{MODEL}/ready").status_code != 200:
            assert time.monotonic() < deadline, "readiness never came back"
            time.sleep(0.2)
        assert http.post(url + V1_PATH, json=TRANSACTION).status_code == 200
        os.kill(redis_pid, signal.SIGKILL)  # gone: connections refused
        refused, took = _timed(lambda: http.post(url + V1_PATH, json=TRANSACTION))
        assert refused.status_code == 503 and took < TIMEOUT_S + 0.5, (refused.status_code, took)
        metrics = http.get(url + "/metrics").text
        assert 'driftloop_online_store_failures_total{policy="fail_closed"}' in metrics


def test_the_defaults_policy_scores_and_flags_the_answer(
    serving: PlatformUnderTest, redis_url: str, tmp_path: Path
) -> None:
    with _transformer_over(serving, redis_url, tmp_path, "defaults") as (http, url, redis_pid):
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            answer, took = _timed(lambda: http.post(url + V1_PATH, json=TRANSACTION))
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        assert answer.status_code == 200 and answer.json()["degraded"] == "online_store_defaults", answer.text
        assert took < TIMEOUT_S + 0.5
        assert 'driftloop_online_store_failures_total{policy="defaults"}' in http.get(url + "/metrics").text


def test_the_in_process_predictor_asks_a_hung_store_once_a_second_not_once_a_request(
    serving: PlatformUnderTest, redis_url: str, tmp_path: Path
) -> None:
    process, url = spawn_predictor(serving, tmp_path, **_with_redis(serving, redis_url, "fail_closed"))
    redis_pid = _redis_pid(int(redis_url.rsplit(":", 1)[1]))
    try:
        with httpx.Client(headers=serving.headers("score"), timeout=5) as http:
            assert http.post(url + V1_PATH, json=TRANSACTION).status_code == 200
            os.kill(redis_pid, signal.SIGSTOP)
            try:
                answers = [_timed(lambda: http.post(url + V1_PATH, json=TRANSACTION)) for _ in range(8)]
            finally:
                os.kill(redis_pid, signal.SIGCONT)
            assert [answer.status_code for answer, _ in answers] == [503] * 8, answers[0][0].text
            waited = [round(took, 2) for _, took in answers if took >= TIMEOUT_S * 0.8]
            assert len(waited) <= 2, f"requests that waited for the store's timeout: {waited}"
            deadline = time.monotonic() + 10
            while http.post(url + V1_PATH, json=TRANSACTION).status_code != 200:  # the store is back
                assert time.monotonic() < deadline, "requests were still refused after the store came back"
                time.sleep(0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
