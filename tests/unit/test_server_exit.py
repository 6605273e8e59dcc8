"""A stopped model server's process ends even when a library left a thread running: the watchdog logs the thread
with its stack, runs the exit handlers (the prediction log's last flush is one) and ends the process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

SCRIPT = textwrap.dedent(
    """
    import atexit, logging, sys, threading
    from serving.server import exit_within

    logging.basicConfig(level=logging.INFO)
    atexit.register(lambda: open(sys.argv[1], "w").write("flushed"))
    if sys.argv[2] == "stuck":
        threading.Thread(target=threading.Event().wait, name="never-told-to-stop").start()
    exit_within(0.5)
    """
)


def _run(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess[str], float, Path]:
    marker = tmp_path / f"{mode}.txt"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(marker), mode], capture_output=True, text=True, timeout=30,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    return done, time.monotonic() - started, marker


def test_a_thread_never_told_to_stop_is_logged_and_the_process_still_ends(tmp_path: Path) -> None:
    done, took, marker = _run(tmp_path, "stuck")
    assert done.returncode == 0, done.stderr
    assert "never-told-to-stop" in done.stderr and "held the stopped server" in done.stderr
    assert "wait" in done.stderr  # its stack: where it was stuck
    assert marker.read_text() == "flushed"  # the exit handlers ran before the process ended
    assert took < 20


def test_a_clean_exit_is_not_held_and_logs_nothing(tmp_path: Path) -> None:
    done, _, marker = _run(tmp_path, "clean")
    assert done.returncode == 0 and "held the stopped server" not in done.stderr, done.stderr
    assert marker.read_text() == "flushed"
