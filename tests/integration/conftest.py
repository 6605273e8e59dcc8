"""One trained platform for the session: local up, generated data, the first pipeline run (version 1).

Training and serving tests share it because a pipeline run costs over a minute on two cores. Tests that
move the `champion` alias compare before and after rather than assume a version number.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipelines.data.raw_data import write_raw_data
from tests.conftest import free_port
from tests.integration.local_platform import PlatformUnderTest, free_ports, isolated_env
from use_cases.fraud.generator import FraudConfig, generate

MODEL = "fraud-detector"


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformUnderTest]:
    state = tmp_path_factory.mktemp("trained") / "state"
    env = isolated_env(state, free_ports())
    # Both model servers: the tests reach the transformer and, behind it, the predictor given features. The
    # default topology's single server is the one spawn_predictor starts (and test_local_platform's platform).
    env["DRIFTLOOP_SERVING_TOPOLOGY"] = "transformer"
    env["DRIFTLOOP_MODEL_POLL_INTERVAL_S"] = "0.5"  # hot swap shows within a second
    env["DRIFTLOOP_DRIFT_CHECK_INTERVAL_S"] = "3600"  # tests run their checks themselves (`monitor run`)
    under_test = PlatformUnderTest(state, env)
    try:
        result = under_test.run("local", "up")
        assert result.returncode == 0, result.stderr + result.stdout
        yield under_test
    finally:
        under_test.run("local", "down")


@pytest.fixture(scope="session")
def raw_data(platform: PlatformUnderTest) -> dict[str, Path]:
    """Generated transactions and labels, landed in the platform's event store as a user lands a batch."""
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    config = FraudConfig(seed=7, days=21, size=400, merchants=60, end=end)
    events, labels = generate(config)
    paths = write_raw_data(events, labels, platform.state_dir / "data" / "raw", config)
    for kind in ("events", "labels"):
        result = platform.run("data", "ingest", kind, str(paths[kind]))
        assert result.returncode == 0, result.stdout + result.stderr
    return paths


@pytest.fixture(scope="session")
def client(platform: PlatformUnderTest) -> Any:
    return platform.registry()


def train(platform: PlatformUnderTest, *args: str) -> tuple[int, str]:
    result = platform.run("pipeline", "run", "training", *args, timeout=600)
    return result.returncode, result.stdout + result.stderr


def run_id_of(output: str) -> str:
    line = next(line for line in output.splitlines() if "MLflow run:" in line)
    return line.rstrip().rsplit("/", 1)[1].rstrip(")")


@pytest.fixture(scope="session")
def first_run(platform: PlatformUnderTest, raw_data: dict[str, Path], client: Any) -> str:
    """The MLflow run id of the first training run, which registered version 1 as champion."""
    code, output = train(platform)
    assert code == 0, output
    assert client.get_model_version_by_alias(MODEL, "champion").version == "1"
    return run_id_of(output)


@pytest.fixture(scope="module")
def serving(platform: PlatformUnderTest, first_run: str) -> PlatformUnderTest:
    """The platform once its transformer answers with the first champion."""
    import time

    import httpx

    from tests.integration.local_platform import server_url

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if httpx.get(f"{server_url(platform, 'transformer')}/v2/models/{MODEL}/ready").status_code == 200:
            return platform
        time.sleep(0.5)
    pytest.fail("the transformer never became ready")


REDIS_PASSWORD = "a-password-for-the-online-store"


@contextmanager
def running_redis() -> Iterator[str]:
    """A real `redis-server` on loopback asking for a password, as the chart's does (`--requirepass`): its
    "127.0.0.1:port" while the block runs."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    import redis

    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--requirepass",
            REDIS_PASSWORD,
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(port=port, password=REDIS_PASSWORD)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A `redis-server` of the test's own (see `running_redis`)."""
    with running_redis() as address:
        yield address
