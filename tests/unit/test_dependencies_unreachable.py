"""A command whose MLflow, Redis online store or KFP API is down fails within seconds, exit 1, with one line
naming the address: each dependency on a real closed port, nothing mocked. (`monitor run`, the first command
held to this, is in test_registry_unreachable.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))
FAIL_FAST_S = 15


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An isolated state folder; MLflow's port is closed (nothing listens there)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLOOP_", "MLFLOW_TRACKING_"))}
    return {**clean, "DRIFTLOOP_STATE_DIR": str(tmp_path / "state"), "DRIFTLOOP_MLFLOW_PORT": str(free_port())}


def driftloop(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    began = time.monotonic()
    result = subprocess.run([DRIFTLOOP, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    return result, time.monotonic() - began


def assert_failed_fast_naming(result: subprocess.CompletedProcess[str], took: float, *named: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert took < FAIL_FAST_S, f"took {took:.1f}s"
    assert "Traceback" not in result.stderr, result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: ") and all(part in message for part in named), message


def test_a_training_run_without_mlflow_fails_fast_naming_its_url(env: dict[str, str]) -> None:
    """It took four minutes of MLflow's retries and ended in a traceback."""
    result, took = driftloop(env, "pipeline", "run", "training")
    assert_failed_fast_naming(result, took, f"http://127.0.0.1:{env['DRIFTLOOP_MLFLOW_PORT']}", "model registry")


@pytest.mark.parametrize("wait", [False, True])
def test_submitting_to_a_kfp_api_that_is_down_fails_fast_naming_it(env: dict[str, str], wait: bool) -> None:
    kfp = f"http://127.0.0.1:{free_port()}"
    result, took = driftloop(env, "pipeline", "submit", "--kfp-host", kfp, *(["--wait"] if wait else []))
    assert_failed_fast_naming(result, took, kfp)  # the run is submitted (and recorded) before --wait reads MLflow


def test_materialising_into_a_redis_that_is_down_fails_fast_naming_it(env: dict[str, str], tmp_path: Path) -> None:
    """The refresh computes the offline tables, then names Redis instead of a Redis traceback; the watermark
    stays where it was, so the next refresh recomputes those hours."""
    for args in (
        ("data", "generate", "--days", "2", "--size", "30", "--set", "merchants=5", "--out", str(tmp_path / "raw")),
        ("data", "ingest", "events", str(tmp_path / "raw" / "events.parquet")),
    ):
        prepared, _ = driftloop(env, *args)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
    redis = f"127.0.0.1:{free_port()}"
    env = {**env, "DRIFTLOOP_FEAST_ONLINE_STORE": "redis", "DRIFTLOOP_FEAST_REDIS_URL": redis}
    for command in (("features", "refresh"), ("features", "materialize")):
        result, took = driftloop(env, *command)
        assert_failed_fast_naming(result, took, redis, "DRIFTLOOP_FEAST_REDIS_URL")
    status, _ = driftloop(env, "data", "status", "--json")
    assert json.loads(status.stdout)["feature_watermark"] is None, "no hour counts as refreshed"
