"""Pipeline step lines from kfp.local's log: one per finished step, with its duration and status."""

from __future__ import annotations

import time
from pathlib import Path

from driftloop.pipeline_runs.step_progress import StepEvent, StepFollower, output_to, step_event

# As kfp 2.17's local orchestrator writes them (with its colour codes).
START = "15:17:23.936 - INFO - Executing task \x1b[96m'validate-data'\x1b[0m\n"
END = "15:17:29.664 - INFO - Task \x1b[96m'validate-data'\x1b[0m finished with status \x1b[92mSUCCESS\x1b[0m\n"


def test_kfp_lines_become_step_events() -> None:
    assert step_event(START) == StepEvent("validate-data", None)
    assert step_event(END) == StepEvent("validate-data", "SUCCESS")
    assert step_event('    "inputs": {"parameterValues": {"window_days": 30}}') is None


def test_the_follower_reports_each_finished_step_once_with_its_time(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    log.write_text("an earlier run's line\n" + END)  # before the follower started: not reported
    reported: list[str] = []
    waiting: list[str] = []
    with StepFollower(log, reported.append, waiting.append, poll_s=0.02), log.open("a") as out:
        out.write(START)
        out.flush()
        time.sleep(0.2)
        out.write(END[:30])  # a line written in two parts
        out.flush()
        time.sleep(0.1)
        out.write(END[30:] + START.replace("validate-data", "gate-model"))
    assert len(reported) == 1 and reported[0].split() == ["validate-data", reported[0].split()[1], "s", "SUCCESS"]
    assert float(reported[0].split()[1]) >= 0.2
    assert waiting and waiting[0].startswith("validate-data (")


def test_output_goes_to_the_log_and_the_console_stream_stays(tmp_path: Path, capfd) -> None:  # type: ignore[no-untyped-def]
    import os

    log = tmp_path / "out.log"
    with output_to(log) as console:
        os.write(1, b"executor chatter\n")
        console.write("step line\n")
    assert "executor chatter" in log.read_text()
    captured = capfd.readouterr()
    assert "step line" in captured.err and "executor chatter" not in captured.out
