"""`driftloop loop pause | resume | status` through the real CLI, against a state folder of the test's own; the
pause file they write is the one the drift check reads (tests/unit/test_check.py holds a window with it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftloop.cli import app
from driftloop.operator_identity import operator_identity
from monitoring.loop_pause import PauseSwitch
from pipelines.core.settings import get_settings
from pipelines.registry.users import SET_BY_US_VARIABLE, USERNAME_VARIABLE


@pytest.fixture
def state_dir(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The CLI's settings read this test's state folder (and no MLflow login from the caller's shell)."""
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    for name in (USERNAME_VARIABLE, SET_BY_US_VARIABLE):
        clean_env.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        yield tmp_path
    finally:
        get_settings.cache_clear()


def _loop(*args: str) -> str:
    result = CliRunner().invoke(app, ["loop", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _status() -> dict[str, object]:
    shown = json.loads(_loop("status", "--json"))
    assert isinstance(shown, dict)
    return shown


def test_pause_and_resume_record_who_why_and_when_and_repeat_safely(state_dir: Path) -> None:
    assert _status() == {"paused": False, "pause": None, "history": []}
    before = datetime.now(UTC)
    assert "loop paused by" in _loop("pause", "--reason", "labels are late")
    after = datetime.now(UTC)
    shown = _status()
    pause = shown["pause"]
    assert isinstance(pause, dict) and shown["paused"] is True
    assert (pause["by"], pause["reason"]) == (operator_identity(), "labels are late")
    assert before <= datetime.fromisoformat(pause["paused_at"]) <= after  # the writer's clock, in UTC
    assert PauseSwitch(state_dir / "monitor").current() is not None  # where the drift check looks

    assert "already paused" in _loop("pause", "--reason", "a second opinion")
    assert _status()["pause"] == pause and len(_status()["history"]) == 1  # type: ignore[arg-type]
    assert "loop: paused by" in _loop("status") and "labels are late" in _loop("status")

    assert "loop resumed" in _loop("resume", "--reason", "labels caught up")
    shown = _status()
    assert (shown["paused"], shown["pause"]) == (False, None)
    history = shown["history"]
    assert isinstance(history, list)
    assert [(e["event"], e["by"], e["reason"]) for e in history] == [
        ("paused", operator_identity(), "labels are late"),
        ("resumed", operator_identity(), "labels caught up"),
    ]
    assert history[1]["paused_at"] == pause["paused_at"]
    assert "was not paused" in _loop("resume")
    assert len(_status()["history"]) == 2  # type: ignore[arg-type]
    assert "loop: running" in _loop("status")


def test_the_operator_is_a_persons_login_never_the_one_driftloop_set(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv(USERNAME_VARIABLE, "alice")
    clean_env.delenv(SET_BY_US_VARIABLE, raising=False)
    assert operator_identity().endswith(" (MLflow login alice)")
    clean_env.setenv(USERNAME_VARIABLE, "driftloop-monitor")
    clean_env.setenv(SET_BY_US_VARIABLE, "driftloop-monitor")
    assert "MLflow login" not in operator_identity() and "@" in operator_identity()
