"""A user's pipeline submitted from its file with kfp.local, as a user would (the `driftloop` CLI in a
subprocess), then found by `pipeline runs` and `pipeline get`. One run serves the module (kfp.local is slow-ish)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TWO_STEPS = REPO / "tests" / "user_pipelines" / "two_steps.py"


def driftloop(state: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("DRIFTLOOP_")}
    env["DRIFTLOOP_STATE_DIR"] = str(state)
    command = [str(Path(sys.executable).parent / "driftloop"), *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def submitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    state = tmp_path_factory.mktemp("state")
    done = driftloop(state, "pipeline", "submit", str(TWO_STEPS), "--param", "name=ada", "--param", "times=3", "--json")
    assert done.returncode == 0, done.stderr
    yield state, json.loads(done.stdout)


def test_submit_prints_the_run_record_and_one_line_per_step(submitted: tuple[Path, dict[str, Any]]) -> None:
    _, record = submitted
    assert record["pipeline"] == "two-steps" and record["mode"] == "local"
    assert record["source"] == str(TWO_STEPS) and record["function"] == "two_steps"
    assert record["parameters"] == {"name": "ada", "times": 3}
    assert record["status"] == "succeeded"


def test_runs_lists_the_run_with_both_steps_succeeded(submitted: tuple[Path, dict[str, Any]]) -> None:
    state, record = submitted
    done = driftloop(state, "pipeline", "runs", "--json")
    assert done.returncode == 0, done.stderr
    runs = json.loads(done.stdout)
    assert [run["id"] for run in runs] == [record["id"]]
    assert runs[0]["status"] == "succeeded"
    assert [(step["name"], step["status"]) for step in runs[0]["steps"]] == [
        ("make-greeting", "succeeded"),
        ("count-words", "succeeded"),
    ]
    table = driftloop(state, "pipeline", "runs")
    assert record["id"] in table.stdout and "succeeded" in table.stdout and "2/2 ok" in table.stdout


def test_get_shows_each_step_with_its_duration(submitted: tuple[Path, dict[str, Any]]) -> None:
    state, record = submitted
    done = driftloop(state, "pipeline", "get", record["id"][:17], "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["id"] == record["id"]
    first, second = shown["steps"]
    assert 0 < first["duration_s"] < 120 and 0 < second["duration_s"] < 120
    assert first["finished_at"] <= second["started_at"], "the second step reads the first's output"
    assert shown["duration_s"] >= first["duration_s"] + second["duration_s"]
    assert shown["submitted_by"] and shown["submitted_at"].endswith("+00:00")
    text = driftloop(state, "pipeline", "get", record["id"])
    assert "make-greeting" in text.stdout and "count-words" in text.stdout and " s" in text.stdout


def test_bad_input_is_refused_in_one_line_before_anything_runs(submitted: tuple[Path, dict[str, Any]]) -> None:
    state, _ = submitted
    wrong_type = driftloop(state, "pipeline", "submit", str(TWO_STEPS), "--param", "times=many")
    assert wrong_type.returncode == 1
    assert wrong_type.stderr.strip().splitlines()[-1] == "error: --param times='many': times takes an integer"
    unknown = driftloop(state, "pipeline", "submit", str(TWO_STEPS), "--param", "colour=red")
    assert "colour is not a parameter of this pipeline (its parameters: name, times)" in unknown.stderr
    missing = driftloop(state, "pipeline", "submit", str(state / "nope.py"))
    assert "does not exist" in missing.stderr and missing.returncode == 1
    runs = json.loads(driftloop(state, "pipeline", "runs", "--json").stdout)
    assert len(runs) == 1, "a refused submission records no run"
