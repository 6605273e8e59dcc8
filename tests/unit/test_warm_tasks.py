"""A task `driftloop-task` hands to the warm host runs as a new interpreter would run it: same arguments,
environment, folder, streams and exit status, stopped when its launcher is; without a host it still runs."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftloop.pipeline_runs.task_client import HOST_VARIABLE
from driftloop.pipeline_runs.warm_tasks import launcher_path, warm_tasks

# A module that reports what it was given, and whether the host had already imported `colorsys` (which nothing
# imports at start-up): the proof that it ran in the warm copy rather than a new interpreter; and whether what the
# host imported is frozen out of the collector's sight (a copy's collections then skip the host's heap).
PROBE = """
import gc, os, sys, time
print("argv", sys.argv[1:], "cwd", os.getcwd(), "env", os.environ.get("PROBE_VALUE"), flush=True)
print("warm", "colorsys" in sys.modules, "frozen", gc.get_freeze_count() > 0, flush=True)
print("warmed up", getattr(sys.modules.get("warm_up_probe"), "CALLS", None), flush=True)
print("to stderr", file=sys.stderr, flush=True)
if "--sleep" in sys.argv:
    print("sleeping", flush=True)
    time.sleep(60)
sys.exit(int(sys.argv[1]) if sys.argv[1:] and sys.argv[1].isdigit() else 0)
"""

# A module whose end has work left: a thread still running, an exit handler, a message as its exit status.
ENDING = """
import atexit, sys, threading, time
atexit.register(lambda: print("exit handler", flush=True))
def late():
    time.sleep(0.3)
    print("thread done", flush=True)
threading.Thread(target=late).start()
sys.exit("stopped: " + sys.argv[1])
"""

# A warm-up the host runs once (`warm_up_probe:prepare`): its copies find it done.
WARM_UP = """
CALLS = 0
def prepare():
    global CALLS
    CALLS += 1
"""

pytestmark = pytest.mark.skipif(launcher_path() is None, reason="driftloop-task is not installed (make install)")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("warm")
    (path / "warm_probe.py").write_text(PROBE)
    (path / "ending_probe.py").write_text(ENDING)
    (path / "warm_up_probe.py").write_text(WARM_UP)
    return path


@pytest.fixture(scope="module")
def host(folder: Path) -> Iterator[dict[str, str]]:
    """The environment a task gets while a host that imported `colorsys` runs (what the runner sets up)."""
    environment = {**os.environ, "PYTHONPATH": str(folder)}
    with warm_tasks(True, environment, folder / "host.log", modules=("colorsys", "warm_up_probe:prepare")):
        yield {**os.environ, "PYTHONPATH": str(folder)}


def _task(environment: dict[str, str], *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    launcher = str(launcher_path())
    return subprocess.run([launcher, *arguments], env=environment, cwd=cwd, capture_output=True, text=True, timeout=90)


def test_a_task_runs_in_the_warm_copy_as_a_new_interpreter_would(host: dict[str, str], tmp_path: Path) -> None:
    result = _task({**host, "PROBE_VALUE": "given"}, "-m", "warm_probe", "3", "x y", cwd=tmp_path)
    assert result.returncode == 3
    assert result.stdout.splitlines() == [
        f"argv ['3', 'x y'] cwd {tmp_path} env given",
        "warm True frozen True",
        "warmed up 1",
    ]
    assert result.stderr.strip() == "to stderr"


def test_a_failing_module_reports_its_error_and_status(host: dict[str, str], tmp_path: Path) -> None:
    result = _task(host, "-m", "warm_probe_missing", cwd=tmp_path)
    assert result.returncode == 1
    assert "No module named warm_probe_missing" in result.stderr


def test_stopping_the_launcher_stops_the_task(host: dict[str, str], tmp_path: Path) -> None:
    launcher = subprocess.Popen(
        [str(launcher_path()), "-m", "warm_probe", "--sleep"], env=host, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )  # fmt: skip
    assert launcher.stdout is not None
    lines = [launcher.stdout.readline() for _ in range(4)]
    assert lines[1].strip() == "warm True frozen True" and lines[3].strip() == "sleeping"
    started = time.monotonic()
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=30) == 128 + signal.SIGTERM
    assert time.monotonic() - started < 10


def test_tasks_run_side_by_side_without_touching_each_other(host: dict[str, str], tmp_path: Path) -> None:
    sleeper = subprocess.Popen(
        [str(launcher_path()), "-m", "warm_probe", "--sleep"], env=host, cwd=tmp_path, stdout=subprocess.PIPE, text=True
    )  # fmt: skip
    assert sleeper.stdout is not None
    assert [sleeper.stdout.readline().strip() for _ in range(4)][3] == "sleeping"
    try:
        quick = _task(host, "-m", "warm_probe", "4", cwd=tmp_path)
        assert quick.returncode == 4 and quick.stdout.splitlines()[1] == "warm True frozen True"
        time.sleep(0.5)
        assert sleeper.poll() is None  # the quick task's copy left its sibling running
    finally:
        sleeper.send_signal(signal.SIGTERM)
        sleeper.wait(timeout=30)


def test_a_task_ends_as_a_new_interpreter_ends(host: dict[str, str], folder: Path, tmp_path: Path) -> None:
    """The copy ends without tearing down the host's modules (os._exit), after what an interpreter's end does:
    it waits for the task's threads, runs its exit handlers and reports a message as status 1."""
    cold = {**os.environ, "PYTHONPATH": str(folder), HOST_VARIABLE: f"{2**22 + 1}:{tmp_path}/none.sock"}
    warm, new = (_task(environment, "-m", "ending_probe", "now", cwd=tmp_path) for environment in (host, cold))
    assert (warm.returncode, warm.stdout, warm.stderr) == (new.returncode, new.stdout, new.stderr)
    assert (warm.returncode, warm.stdout, warm.stderr) == (1, "thread done\nexit handler\n", "stopped: now\n")


def test_without_a_host_the_task_runs_in_a_new_interpreter(folder: Path, tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(folder), HOST_VARIABLE: f"{2**22 + 1}:{tmp_path}/none.sock"}
    result = _task(environment, "-m", "warm_probe", "5", cwd=tmp_path)
    assert result.returncode == 5
    assert result.stdout.splitlines()[1] == "warm False frozen False"


def test_the_runner_restores_the_interpreter_and_stops_the_host(folder: Path) -> None:
    interpreter = sys.executable
    with warm_tasks(True, {**os.environ}, folder / "restore.log"):
        assert sys.executable == str(launcher_path())
        host_pid = int(os.environ[HOST_VARIABLE].split(":")[0])
    assert sys.executable == interpreter and HOST_VARIABLE not in os.environ
    with pytest.raises(ProcessLookupError):
        os.kill(host_pid, 0)


def test_a_host_that_imported_a_fork_unsafe_library_refuses_to_serve(folder: Path, tmp_path: Path) -> None:
    socket_path = tmp_path / "host.sock"
    host = subprocess.run(
        [sys.executable, "-m", "driftloop.pipeline_runs.task_host", "--socket", str(socket_path),
         "--parent", str(os.getpid()), "onnxruntime"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert host.returncode != 0 and "onnxruntime" in host.stderr
    assert not socket_path.exists()
    # A launcher pointed at it (its pid alive: this test's) does not wait for it: it runs the task cold at once.
    environment = {**os.environ, "PYTHONPATH": str(folder), HOST_VARIABLE: f"{os.getpid()}:{socket_path}"}
    started = time.monotonic()
    result = _task(environment, "-m", "warm_probe", cwd=tmp_path)
    assert result.returncode == 0 and result.stdout.splitlines()[1] == "warm False frozen False"
    assert time.monotonic() - started < 30


def test_a_driftloop_command_from_a_host_answers_as_a_new_interpreter(tmp_path: Path) -> None:
    """The demo's commands run this way: the host imported the CLI with its own environment, the command reads
    the settings of its own (nothing the host resolved carries over), and errors exit as they would cold."""
    from driftloop.pipeline_runs.warm_tasks import task_host

    base = {**os.environ, "DRIFTLOOP_STATE_DIR": str(tmp_path / "state")}
    started_with = {**base, "DRIFTLOOP_DRIFT_SHARE_THRESHOLD": "0.5"}
    given = {**base, "DRIFTLOOP_DRIFT_SHARE_THRESHOLD": "0.33"}
    command = ("-m", "driftloop", "config", "show", "--json")
    with task_host(started_with, tmp_path / "host.log", ("driftloop.cli",)) as host:
        warm = _task({**given, HOST_VARIABLE: str(host)}, *command, cwd=tmp_path)
        broken = _task({**given, HOST_VARIABLE: str(host), "DRIFTLOOP_DRIFT_SHARE_THRESHOLD": "lots"}, *command,
                       cwd=tmp_path)  # fmt: skip
    cold = subprocess.run([sys.executable, *command], env=given, capture_output=True, text=True, timeout=90)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == cold.stdout
    assert '"DRIFTLOOP_DRIFT_SHARE_THRESHOLD": {"value": "0.33"' in warm.stdout.replace("\n", "").replace("  ", "")
    assert broken.returncode == 2 and "DRIFTLOOP_DRIFT_SHARE_THRESHOLD" in broken.stderr
    assert (tmp_path / "host.log").read_text().count("python -m driftloop") == 2  # both ran in the host


def test_the_training_hosts_preloads_import_and_warm_up_without_a_thread() -> None:
    """What the training task host preloads (`TASK_MODULES`) all exists, starts no thread (the host would refuse to
    fork) and leaves MLflow's package map built (its warm-up)."""
    script = (
        "from driftloop.pipeline_runs.task_host import preload\n"
        "from driftloop.pipeline_runs.warm_tasks import TASK_MODULES\n"
        "preload(list(TASK_MODULES))\n"
        "from mlflow.utils import requirements_utils\n"
        "print('map built', bool(requirements_utils._MODULES_TO_PACKAGES))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "could not preload" not in result.stderr, result.stderr[-2000:]
    assert result.stdout.strip() == "map built True"
