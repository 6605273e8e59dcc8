"""A step waits for a helper of its run (warm task host, the run's Ray) only while the helper can still come."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from pipelines.core.handoff import Handoff, process_gone


def test_a_handoff_is_read_back_from_its_variable() -> None:
    handoff = Handoff(4242, "/tmp/a:b/host.sock")
    assert Handoff.parse(str(handoff)) == handoff
    assert Handoff.parse("") is None
    assert Handoff.parse("x:/tmp/host.sock") is None
    assert Handoff.parse("4242:") is None


def test_a_handoff_passed_down_is_used_only_while_its_helper_lives(tmp_path: Path) -> None:
    alive = Handoff(os.getpid(), str(tmp_path / "host.sock"))
    assert Handoff.living(str(alive)) == alive and Handoff.living("") is None
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    assert Handoff.living(str(Handoff(ended.pid, str(tmp_path / "gone.sock")))) is None


def test_the_wait_ends_when_the_path_appears(tmp_path: Path) -> None:
    path = tmp_path / "address"
    threading.Timer(0.3, path.write_text, args=("127.0.0.1:6379",)).start()
    assert Handoff(os.getpid(), str(path)).ready(30)


def test_a_crashed_helper_left_unreaped_is_not_waited_for(tmp_path: Path) -> None:
    """A helper killed before it published stays a zombie of the runner (nobody reaps it until the run ends): it
    still answers a signal, so only its state says it is gone. Without that every step waited the whole timeout."""
    helper = subprocess.Popen([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{helper.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        assert process_gone(helper.pid)
        started = time.monotonic()
        assert not Handoff(helper.pid, str(tmp_path / "host.sock")).ready(60)
        assert time.monotonic() - started < 30  # gave up on the zombie, not on the 60 s timeout
    finally:
        helper.wait()


def test_a_failed_helper_is_not_waited_for_and_a_live_one_is_not_gone(tmp_path: Path) -> None:
    handoff = Handoff(os.getpid(), str(tmp_path / "host.sock"))
    assert not process_gone(handoff.pid)
    Path(handoff.failed_marker).touch()
    started = time.monotonic()
    assert not handoff.ready(60)
    assert time.monotonic() - started < 30
