"""`driftloop config show` prints the value in force of every setting, never `None`, and where it came from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftloop.cli import app
from pipelines.core.settings import Settings, env_var_name, get_settings
from use_cases.delivery import USE_CASE as DELIVERY
from use_cases.fraud import USE_CASE as FRAUD

LINE = re.compile(r"^(DRIFTLOOP_[A-Z0-9_]+)=(.*)  # (environment|default|derived|use case|default \(unset\))$")


def _show(*args: str) -> str:
    get_settings.cache_clear()  # each call reads the environment the test just set
    result = CliRunner().invoke(app, ["config", "show", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _lines(output: str) -> dict[str, tuple[str, str]]:
    """Each variable's (value, source) from the text output, every line checked against the format."""
    shown = {}
    for line in output.splitlines():
        match = LINE.match(line)
        assert match, f"not `NAME=value  # source`: {line!r}"
        shown[match[1]] = (match[2], match[3])
    return shown


def test_every_setting_is_shown_once_with_its_value_in_force_and_its_source(
    state_dir: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("DRIFTLOOP_MLFLOW_PORT", "5123")
    output = _show()
    shown = _lines(output)
    assert len(output.splitlines()) == len(shown) == len(Settings.model_fields)  # each once
    assert set(shown) == {env_var_name(name) for name in Settings.model_fields}
    assert not [name for name, (value, _) in shown.items() if value == "None"]
    assert shown["DRIFTLOOP_STATE_DIR"] == (str(state_dir), "environment")
    assert shown["DRIFTLOOP_MLFLOW_PORT"] == ("5123", "environment")
    assert shown["DRIFTLOOP_SEED"] == ("42", "default")
    # Derived from other settings: the address and the folders the platform really uses.
    assert shown["DRIFTLOOP_MLFLOW_TRACKING_URI"] == ("http://127.0.0.1:5123", "derived")
    assert shown["DRIFTLOOP_BIND_ADDRESS"] == ("127.0.0.1", "derived")
    assert shown["DRIFTLOOP_PREDICTOR_HOST"] == ("127.0.0.1:8081", "derived")
    assert shown["DRIFTLOOP_MLFLOW_BACKEND_STORE_URI"] == (f"sqlite:///{state_dir}/mlflow/mlflow.db", "derived")
    assert shown["DRIFTLOOP_FEAST_REGISTRY_URI"] == (f"{state_dir}/feast/registry.db", "derived")
    assert shown["DRIFTLOOP_EVENT_STORE_DIR"] == (f"{state_dir}/events", "derived")
    assert shown["DRIFTLOOP_PREDICTION_LOG_SEGMENTS_DIR"] == (f"{state_dir}/predictions/.segments", "derived")
    assert shown["DRIFTLOOP_STREAM_URL"] == (f"sqlite:///{state_dir}/stream/stream.db", "derived")
    assert shown["DRIFTLOOP_LABEL_EVENT_WAIT_S"] == ("2.0", "derived")  # two prediction-log flushes of 1 s
    assert re.fullmatch(r"[0-9a-f]{40}( \(uncommitted changes\))?", shown["DRIFTLOOP_CODE_VERSION"][0])
    # The use case's declaration.
    assert shown["DRIFTLOOP_MODEL_NAME"] == (FRAUD.model_name, "use case")
    assert shown["DRIFTLOOP_GATE_FLOOR"] == (str(FRAUD.gate.floor), "use case")
    assert shown["DRIFTLOOP_GATE_EVIDENCE_METRIC"] == ("precision_at_budget", "use case")
    assert shown["DRIFTLOOP_ALERT_BUDGET_PER_DAY"] == (str(FRAUD.metric.alert_budget), "use case")
    # Unset, and nothing stands in for it.
    assert shown["DRIFTLOOP_KFP_HOST"] == ("", "default (unset)")
    assert shown["DRIFTLOOP_FEAST_REDIS_PASSWORD"] == ("", "default (unset)")


def test_a_variable_that_is_set_wins_and_moves_what_derives_from_it(
    state_dir: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("DRIFTLOOP_FEAST_REPO_PATH", str(state_dir / "elsewhere"))
    clean_env.setenv("DRIFTLOOP_GATE_FLOOR", "0.8")
    clean_env.setenv("DRIFTLOOP_PREDICTION_LOG_FLUSH_S", "3")
    shown = _lines(_show())
    assert shown["DRIFTLOOP_FEAST_REPO_PATH"] == (str(state_dir / "elsewhere"), "environment")
    assert shown["DRIFTLOOP_FEAST_REGISTRY_URI"] == (f"{state_dir}/elsewhere/registry.db", "derived")
    assert shown["DRIFTLOOP_GATE_FLOOR"] == ("0.8", "environment")
    assert shown["DRIFTLOOP_LABEL_EVENT_WAIT_S"] == ("6.0", "derived")


def test_what_a_use_case_skips_is_shown_with_its_reason(state_dir: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_USE_CASE", "delivery")
    shown = _lines(_show())
    assert shown["DRIFTLOOP_MODEL_NAME"] == (DELIVERY.model_name, "use case")
    assert shown["DRIFTLOOP_GATE_EVIDENCE_METRIC"] == ("mae", "use case")
    skipped = DELIVERY.gate.min_holdout_positives
    assert shown["DRIFTLOOP_GATE_MIN_HOLDOUT_POSITIVES"] == (f"skipped ({skipped.reason})", "use case")  # type: ignore[union-attr]
    assert shown["DRIFTLOOP_ALERT_BUDGET_PER_DAY"][0].startswith("skipped (")


def test_json_is_one_object_of_the_same_values_and_sources_with_passwords_masked(
    state_dir: Path, clean_env: pytest.MonkeyPatch
) -> None:
    host = "driftloop-postgres.kubeflow.svc.cluster.local:5432"
    clean_env.setenv("DRIFTLOOP_MLFLOW_BACKEND_STORE_URI", f"postgresql+psycopg://mlflow:ml0w@{host}/mlflow")
    clean_env.setenv("DRIFTLOOP_FEAST_REDIS_PASSWORD", "r3dis")
    text, raw = _lines(_show()), _show("--json")
    assert "ml0w" not in raw and "r3dis" not in raw
    shown = json.loads(raw)
    assert list(shown) == list(text)
    for variable, (value, source) in text.items():
        expected = {"value": None, "source": "default"} if source == "default (unset)" else {"value": value}
        assert shown[variable] == {"source": source, **expected}
    assert shown["DRIFTLOOP_MLFLOW_BACKEND_STORE_URI"] == {
        "value": f"postgresql+psycopg://mlflow:***@{host}/mlflow",
        "source": "environment",
    }
    assert shown["DRIFTLOOP_FEAST_REDIS_PASSWORD"]["value"] == "**********"
    assert shown["DRIFTLOOP_KFP_HOST"] == {"value": None, "source": "default"}
