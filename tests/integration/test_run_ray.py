"""The Ray a local training run starts for its steps: a step joins it instead of starting its own, it ends with
the run, and a step never waits on a holder that failed or died."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from driftloop.pipeline_runs.run_ray import needs_ray, run_ray
from pipelines.core.handoff import failed_marker
from pipelines.core.ray_runtime import HOLDER_VARIABLE, held_ray_address
from pipelines.core.settings import Settings, settings_environment
from pipelines.core.training_request import TrainingRequest

pytestmark = pytest.mark.integration

# A step's view: what ray_runtime joins, and the CPUs that Ray offers.
STEP = """
import ray
from pipelines.core.ray_runtime import ray_runtime
from pipelines.core.settings import get_settings
with ray_runtime(get_settings()) as cpus:
    print(ray.get_runtime_context().gcs_address, cpus)
"""


def _searching(settings: Settings) -> TrainingRequest:
    return TrainingRequest.from_settings(settings, trigger="test", search_trials=2)


def _ray_processes_of(pid: int) -> list[psutil.Process]:
    try:
        return [child for child in psutil.Process(pid).children(recursive=True) if "raylet" in child.name()]
    except psutil.NoSuchProcess:
        return []


def test_a_searching_run_needs_a_ray_unless_one_is_configured(state_dir: Path) -> None:
    settings = Settings()
    fixed = TrainingRequest.from_settings(settings, trigger="test", search_trials=0)
    assert needs_ray(settings, _searching(settings))
    assert not needs_ray(settings, fixed)
    assert not needs_ray(Settings(ray_address="10.0.0.1:6379"), _searching(settings))
    assert needs_ray(Settings(feature_engine="ray"), fixed)


def test_the_step_joins_the_runs_ray_and_the_ray_ends_with_the_run(state_dir: Path) -> None:
    settings = Settings(ray_cpus=1)
    environment = settings_environment(settings, os.environ)
    with run_ray(settings, _searching(settings), environment, state_dir / "run-ray.log"):
        holder, _, address_file = os.environ[HOLDER_VARIABLE].partition(":")
        address = held_ray_address()
        assert address and Path(address_file).read_text() == address
        assert _ray_processes_of(int(holder))  # its Ray runs under the holder
        step = subprocess.run(
            [sys.executable, "-c", STEP], env={**environment, HOLDER_VARIABLE: os.environ[HOLDER_VARIABLE]},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert step.returncode == 0, step.stderr[-2000:]
        assert step.stdout.split() == [address, "1"]  # the holder's Ray, with the settings' CPUs
    assert HOLDER_VARIABLE not in os.environ
    assert not psutil.pid_exists(int(holder)) or psutil.Process(int(holder)).status() == psutil.STATUS_ZOMBIE
    assert "SIGTERM received" not in (state_dir / "run-ray.log").read_text()  # shut down, not killed


def test_a_step_does_not_wait_for_a_failed_or_dead_holder(tmp_path: Path) -> None:
    address_file = tmp_path / "address"
    Path(failed_marker(str(address_file))).touch()
    started = time.monotonic()
    assert held_ray_address(f"{os.getpid()}:{address_file}") is None  # alive, but it said it failed
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert held_ray_address(f"{dead.pid}:{tmp_path / 'other'}") is None
    assert time.monotonic() - started < 5
    assert held_ray_address("") is None


def test_the_runs_ray_starts_after_the_task_host_and_not_at_all_when_the_run_ends_first(tmp_path: Path) -> None:
    """Ray's start waits for the run's task host (both at once delayed the first task by 3 s on two cores). A run
    that ends before the host is ready ends its holder at once, with no Ray started."""
    from pipelines.core.handoff import Handoff

    settings = Settings(ray_cpus=1)
    environment = settings_environment(settings, os.environ)
    host = Handoff(os.getpid(), str(tmp_path / "host.sock"))  # a host that lives and is not ready
    with run_ray(settings, _searching(settings), environment, tmp_path / "waiting.log", after=host):
        holder = int(os.environ[HOLDER_VARIABLE].partition(":")[0])
        time.sleep(2)
        assert not _ray_processes_of(holder)  # waiting for the host
        ended = time.monotonic()
    assert time.monotonic() - ended < 5  # not the 20 s the runner waits for a Ray to stop
    assert not psutil.pid_exists(holder) or psutil.Process(holder).status() == psutil.STATUS_ZOMBIE

    with run_ray(settings, _searching(settings), environment, tmp_path / "ready.log", after=host):
        Path(host.path).touch()  # the host is ready: Ray starts and the step finds it
        assert held_ray_address()
