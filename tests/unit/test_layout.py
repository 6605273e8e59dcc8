"""Every folder of the state directory has one owner: the layout, built from the settings."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipelines.core.layout import Layout, Location
from pipelines.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
PLATFORM_CODE = ("pipelines", "serving", "monitoring", "feature_repo", "platform/driftloop")


def test_every_folder_lies_under_the_state_dir_by_default(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = tmp_path / "state"
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(state))
    layout = Layout.from_settings(Settings())
    folders = {name: value for name, value in vars(layout).items() if isinstance(value, Path)}
    assert len(folders) >= 14
    for name, folder in folders.items():
        assert folder == state or state in folder.parents, name
    assert len(set(folders.values())) == len(folders), "two owners' folders coincide"
    for location in (layout.event_store, layout.prediction_log, layout.feature_data, layout.scratch):
        assert not location.remote and state in Path(location.url).parents
    assert layout.mlflow_backend_store_uri == f"sqlite:///{state}/mlflow/mlflow.db"
    assert layout.mlflow_auth_database_uri == f"sqlite:///{state}/mlflow/auth.db"
    assert layout.mlflow_artifacts_destination == str(state / "mlflow" / "artifacts")
    assert layout.feast_registry == str(state / "feast" / "registry.db") and not layout.feast_registry_is_postgresql
    assert layout.prediction_log_segments == state / "predictions" / ".segments"
    assert layout.monitor_references == state / "monitor" / "reference"
    assert layout.demo_summary == state / "demo" / "summary.json"


def test_a_setting_moves_its_folder_and_nothing_else(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path / "state"))
    before = Layout.from_settings(Settings())
    clean_env.setenv("DRIFTLOOP_FEAST_REPO_PATH", str(tmp_path / "elsewhere"))
    after = Layout.from_settings(Settings())
    assert after.feast_repo == tmp_path / "elsewhere"
    assert after.feature_data == Location(str(tmp_path / "elsewhere"))
    assert after.feast_registry == str(tmp_path / "elsewhere" / "registry.db")
    changed = {name for name in vars(before) if getattr(before, name) != getattr(after, name)}
    assert changed == {"feast_repo", "feature_data", "feast_registry"}


def test_with_an_object_store_shared_data_is_remote_and_durable_segments_stay_local(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path / "state"))
    clean_env.setenv("DRIFTLOOP_OBJECT_STORE_URL", "s3://lake/driftloop/")
    clean_env.setenv("DRIFTLOOP_OBJECT_STORE_ENDPOINT", "http://127.0.0.1:9000")
    layout = Layout.from_settings(Settings())
    assert layout.event_store == Location("s3://lake/driftloop/events", "http://127.0.0.1:9000")
    assert layout.scratch.url == "s3://lake/driftloop/scratch" and layout.scratch.remote
    assert layout.prediction_log_segments == tmp_path / "state" / "prediction-log-segments"


def _joins_to_state_dir(tree: ast.AST) -> list[int]:
    """Lines that build a path from `<anything>.state_dir / ...`."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div)
        and isinstance(node.left, ast.Attribute)
        and node.left.attr == "state_dir"
    ]


def test_no_platform_module_builds_a_folder_of_the_state_dir_itself() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line}"
        for root in PLATFORM_CODE
        for path in sorted((REPO / root).rglob("*.py"))
        if path.name != "layout.py"
        for line in _joins_to_state_dir(ast.parse(path.read_text()))
    ]
    assert offenders == [], "ask pipelines.core.layout.Layout for the folder"
