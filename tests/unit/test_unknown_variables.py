"""A misspelled `DRIFTLOOP_*` variable is named when the CLI starts (a warning, not an error), with the setting it
most likely meant; variables of ours read outside the settings are no typo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from driftloop.unknown_variables import NOT_SETTINGS, unknown_variables
from pipelines.core.settings import RETIRED_VARIABLES, Settings, env_var_name

REPO = Path(__file__).resolve().parents[2]
DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))
THIS_FILE = Path(__file__).resolve().relative_to(REPO)  # its misspellings are on purpose


def test_a_typo_is_named_with_the_closest_setting() -> None:
    found = unknown_variables(
        {"DRIFTLOOP_MLFLOW_PROT": "5001", "DRIFTLOOP_STATEDIR": "/tmp/x", "DRIFTLOOP_GATE_FLOR": "0.8", "PATH": "/bin"}
    )
    assert [(u.name, u.suggestion) for u in found] == [
        ("DRIFTLOOP_GATE_FLOR", "DRIFTLOOP_GATE_FLOOR"),
        ("DRIFTLOOP_MLFLOW_PROT", "DRIFTLOOP_MLFLOW_PORT"),
        ("DRIFTLOOP_STATEDIR", "DRIFTLOOP_STATE_DIR"),
    ]
    assert found[1].message == (
        "DRIFTLOOP_MLFLOW_PROT is not a driftloop setting and is ignored; did you mean DRIFTLOOP_MLFLOW_PORT?"
    )


def test_a_name_like_no_setting_gets_no_guess() -> None:
    """The shared prefix alone would make every name "close" to some setting."""
    (found,) = unknown_variables({"DRIFTLOOP_FOO": "1"})
    assert found.suggestion is None
    assert found.message == "DRIFTLOOP_FOO is not a driftloop setting and is ignored"


def test_settings_and_variables_read_elsewhere_are_not_reported() -> None:
    environment = {env_var_name(name): "x" for name in Settings.model_fields}
    environment |= dict.fromkeys(NOT_SETTINGS, "x") | dict.fromkeys(RETIRED_VARIABLES, "x")  # retired: refused
    environment |= {"driftloop_mode": "local", "_DRIFTLOOP_MLFLOW_LOGIN": "x", "MLFLOW_TRACKING_URI": "x"}
    assert unknown_variables(environment) == []


def test_every_driftloop_variable_the_repository_names_is_a_setting_or_known() -> None:
    """The names in code, charts, Makefiles and tests: a new variable read outside the settings must be added
    to NOT_SETTINGS, or every command would warn about it."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "grep", "-hoIE", r"\bDRIFTLOOP_[A-Z0-9_]*[A-Z0-9]\b", "--", ".", f":!{THIS_FILE}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    deliberate = {"DRIFTLOOP_MLFLOW_BACKEND_URI"}  # the parity harness's broken chart (test_parity_breaks.py)
    reported = {u.name for u in unknown_variables(dict.fromkeys(listed, "x"))} - deliberate
    assert reported == set()


def test_the_cli_warns_on_stderr_and_still_runs(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_MLFLOW_PROT", "5001")
    clean_env.setenv("DRIFTLOOP_TEST_ONLY_CRASH_AT", "nowhere")  # read by the fault tests' crash points
    done = subprocess.run([DRIFTLOOP, "use-case", "list"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "* fraud" in done.stdout.splitlines()
    assert done.stderr.splitlines() == [
        "warning: DRIFTLOOP_MLFLOW_PROT is not a driftloop setting and is ignored; did you mean DRIFTLOOP_MLFLOW_PORT?"
    ]


def test_the_warning_comes_before_a_settings_error(clean_env: pytest.MonkeyPatch) -> None:
    """A typo is often why the settings are refused (the variable meant to fix them was misspelt)."""
    clean_env.setenv("DRIFTLOOP_MODE", "kind")
    clean_env.setenv("DRIFTLOOP_KFP_HOTS", "http://ml-pipeline:8888")
    done = subprocess.run([DRIFTLOOP, "config", "show"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    first, second = done.stderr.splitlines()
    assert first == (
        "warning: DRIFTLOOP_KFP_HOTS is not a driftloop setting and is ignored; did you mean DRIFTLOOP_KFP_HOST?"
    )
    assert second.startswith("error: invalid settings: DRIFTLOOP_MODE=kind needs DRIFTLOOP_KFP_HOST")
