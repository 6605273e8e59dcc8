"""`driftloop local status` and `down` across a wall-clock step, with real processes and the real CLI.

A step of the wall clock (suspend, NTP) moves psutil's `create_time` of every process by the step on Linux; a pid
record compared by it then reported running services as stopped and deleted their records. The step is shown
here two ways: the record's stored start time moved by the step (what a record written before a step looks like
afterwards), and psutil's boot time moved in this process (how psutil itself sees the step)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from driftloop.local.process_identity import is_same_process, start_marker
from driftloop.local.processes import ProcessRecord
from driftloop.local.runtime import LocalPlatform
from pipelines.core.settings import Settings
from tests.conftest import free_port

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))
SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]
PORTS = ("MLFLOW", "EVIDENTLY", "PREDICTOR", "TRANSFORMER", "MONITOR", "RAY")


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """An isolated platform state folder on free ports: nothing answers any health check."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLOOP_", "MLFLOW_TRACKING_"))}
    env["DRIFTLOOP_STATE_DIR"] = str(tmp_path / "state")
    env.update({f"DRIFTLOOP_{name}_PORT": str(free_port()) for name in PORTS})
    return env


LAUNCH = (  # a CLI process that starts a service and exits, as `local up` does
    "import sys, pathlib; from driftloop.local.processes import spawn; "
    "print(spawn(sys.argv[2:], pathlib.Path(sys.argv[1]), {}).pid)"
)


@pytest.fixture
def sleepers() -> Iterator[list[psutil.Process]]:
    """Processes started as `local up` starts a service: by a CLI process that then exits, so the service is
    nobody's child here (a parent that never reaps would keep it a zombie). Killed if a test leaves any."""
    started: list[psutil.Process] = []
    yield started
    for process in started:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(started, timeout=10)


def sleeper(sleepers: list[psutil.Process], tmp_path: Path) -> psutil.Process:
    log = tmp_path / f"sleeper-{len(sleepers)}.log"
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(log), *SLEEPER], capture_output=True, text=True, check=True
    )
    process = psutil.Process(int(launched.stdout))
    sleepers.append(process)
    return process


def gone(process: psutil.Process) -> bool:
    psutil.wait_procs([process], timeout=10)
    return not process.is_running()


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLOOP, "local", *args], env=env, capture_output=True, text=True, timeout=60, check=False)


def mlflow_state(env: dict[str, str]) -> dict[str, object]:
    services = json.loads(cli(env, "status", "--json").stdout)["services"]
    return next(service for service in services if service["name"] == "mlflow")


def record_as_mlflow(process: psutil.Process, env: dict[str, str], **changes: object) -> Path:
    run_dir = Path(env["DRIFTLOOP_STATE_DIR"]) / "run"
    record = ProcessRecord.of(process, "mlflow", SLEEPER, run_dir / "mlflow.log", "http://127.0.0.1:1", "")
    dataclasses.replace(record, **changes).save(run_dir)
    return run_dir / "mlflow.json"


@pytest.mark.parametrize("step_s", [10.0, -10.0])
def test_a_record_from_before_a_clock_step_still_finds_and_stops_its_service(
    state: dict[str, str], sleepers: list[psutil.Process], tmp_path: Path, step_s: float
) -> None:
    process = sleeper(sleepers, tmp_path)
    stepped = process.create_time() + step_s
    path = record_as_mlflow(process, state, create_time=stepped)
    assert abs(psutil.Process(process.pid).create_time() - stepped) > 1, "a create-time match would call it gone"

    found = mlflow_state(state)
    assert (found["state"], found["pid"]) == ("unhealthy", process.pid), "running (nothing answers its health URL)"
    assert path.exists(), "status kept the record"
    down = cli(state, "down")
    assert down.returncode == 0 and f"mlflow: stopping (pid {process.pid})" in down.stdout, down.stdout + down.stderr
    assert gone(process) and not path.exists()
    assert mlflow_state(state)["state"] == "stopped"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="psutil derives create_time from /proc on Linux")
@pytest.mark.parametrize("step_s", [10.0, -10.0])
def test_status_and_down_hold_while_psutil_sees_the_clock_stepped(
    state: dict[str, str],
    sleepers: list[psutil.Process],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step_s: float,
) -> None:
    """psutil adds the boot time, which the kernel derives from the wall clock, to each process's start ticks."""
    from psutil import _pslinux

    process = sleeper(sleepers, tmp_path)
    record_as_mlflow(process, state)
    before = psutil.Process(process.pid).create_time()
    monkeypatch.setattr(_pslinux, "BOOT_TIME", psutil.boot_time() + step_s)
    assert psutil.Process(process.pid).create_time() == pytest.approx(before + step_s)

    for name, value in state.items():
        if name.startswith("DRIFTLOOP_"):
            monkeypatch.setenv(name, value)
    platform = LocalPlatform(Settings())
    mlflow = next(service for service in platform.status() if service.name == "mlflow")
    assert (mlflow.state, mlflow.pid) == ("unhealthy", process.pid)
    assert platform.down() == ["mlflow"] and gone(process)


def test_a_recycled_pid_is_never_taken_for_ours(
    state: dict[str, str], sleepers: list[psutil.Process], tmp_path: Path
) -> None:
    """A record whose pid now belongs to another process (the same pid, another start): reported stopped, its
    record dropped, and `down` leaves that process alone, even with the record's wall-clock start equal to the
    stranger's."""
    stranger = sleeper(sleepers, tmp_path)
    kind, boot, ticks = start_marker(stranger.pid).split(":")
    old_marker = f"{kind}:{boot}:{int(ticks) - 100}"  # the pid's previous owner, started a second earlier
    path = record_as_mlflow(stranger, state, start_marker=old_marker)

    assert mlflow_state(state)["state"] == "stopped" and not path.exists()
    record_as_mlflow(stranger, state, start_marker=old_marker)
    down = cli(state, "down")
    assert "nothing was running" in down.stdout, down.stdout + down.stderr
    assert stranger.is_running() and stranger.status() != psutil.STATUS_ZOMBIE


def test_without_proc_the_marker_is_the_kernels_wall_clock_start(
    sleepers: list[psutil.Process], tmp_path: Path
) -> None:
    """macOS has no /proc: its kernel keeps each process's start as the wall-clock time it began (a later step
    leaves it alone), which psutil reports as create_time."""
    process = sleeper(sleepers, tmp_path)
    marker = start_marker(process.pid, proc=tmp_path / "no-proc")
    assert marker == f"ctime:{psutil.Process(process.pid).create_time()!r}"
    assert is_same_process(process.pid, marker, proc=tmp_path / "no-proc")
    assert not is_same_process(os.getpid(), marker, proc=tmp_path / "no-proc")
    assert start_marker(process.pid).startswith("ticks:") and is_same_process(process.pid, start_marker(process.pid))


def test_a_record_written_before_start_markers_is_still_recognised(
    state: dict[str, str], sleepers: list[psutil.Process], tmp_path: Path
) -> None:
    process = sleeper(sleepers, tmp_path)
    path = record_as_mlflow(process, state)
    legacy = json.loads(path.read_text())
    del legacy["start_marker"]
    path.write_text(json.dumps(legacy))
    assert mlflow_state(state)["pid"] == process.pid


def test_a_retraining_handle_names_its_process_by_start_marker(sleepers: list[psutil.Process], tmp_path: Path) -> None:
    """The drift monitor keeps `local:<pid>:<marker>` while a retraining run is in flight; one written before
    markers (`local:<pid>:<create time>`) still reads."""
    from driftloop.pipeline_runs.local_runner import LocalPipelineRunner

    runner = LocalPipelineRunner(Settings())
    process = sleeper(sleepers, tmp_path)
    assert runner.is_active(f"local:{process.pid}:{start_marker(process.pid)}")
    assert runner.is_active(f"local:{process.pid}:{process.create_time()}")
    kind, boot, ticks = start_marker(process.pid).split(":")
    assert not runner.is_active(f"local:{process.pid}:{kind}:{boot}:{int(ticks) + 1}")
    process.kill()
    assert gone(process) and not runner.is_active(f"local:{process.pid}:{start_marker(os.getpid())}")
