"""How a finished command ends (driftloop.cli.finish): its exit status, its output and every atexit handler
kept, without the interpreter's native teardown (where pyarrow's thread pool can abort a finished command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import atexit, sys, threading, time
sys.argv = ["driftloop", *sys.argv[1:]]
atexit.register(lambda: print("atexit handler ran", flush=True))
def late_writer():
    time.sleep(0.3)
    print("non-daemon thread finished", flush=True)
threading.Thread(target=late_writer).start()
from driftloop.cli import main
main()
"""


def _run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DRIFTLOOP_STATE_DIR": str(tmp_path), "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-c", SCRIPT, *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_finished_command_keeps_its_status_output_threads_and_atexit_handlers(tmp_path: Path) -> None:
    done = _run(tmp_path, "data", "status", "--json")
    assert done.returncode == 0, done.stderr
    assert '"events": 0' in done.stdout
    assert "non-daemon thread finished" in done.stdout and done.stdout.rstrip().endswith("atexit handler ran")


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (("auth", "token", "root"), 1, "unknown scope 'root'"),  # a DriftloopError: one line, its code
        (("no-such-command",), 2, "No such command"),  # click's own usage error
    ],
)
def test_a_failed_command_keeps_its_exit_code_and_message(
    tmp_path: Path, args: tuple[str, ...], code: int, said: str
) -> None:
    done = _run(tmp_path, *args)
    assert done.returncode == code, done.stderr
    assert said in done.stderr and "atexit handler ran" in done.stdout
