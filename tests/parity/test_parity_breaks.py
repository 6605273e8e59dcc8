"""The parity run catches what it is for: each test breaks the chart on purpose (a copy of it) and shows
the harness failing on it, with the failure a user would read."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.parity.bring_up import ParityRun
from tests.parity.chart import CHART
from tests.parity.checks import load_dashboard, panels_without_data, unknown_settings
from tests.parity.conftest import new_run, run_folder

pytestmark = pytest.mark.parity


def broken_chart(tmp_path: Path, template: str, old: str, new: str) -> Path:
    chart = tmp_path / "driftloop"
    shutil.copytree(CHART, chart)
    path = chart / template
    text = path.read_text()
    assert old in text, f"{old!r} is not in {template}: the break no longer applies"
    path.write_text(text.replace(old, new))
    return chart


def test_a_wrong_env_name_is_a_finding(tmp_path: Path) -> None:
    """MLflow would silently fall back to its default store on a real cluster; the harness names the variable."""
    chart = broken_chart(
        tmp_path, "templates/mlflow.yaml", "DRIFTLOOP_MLFLOW_BACKEND_STORE_URI", "DRIFTLOOP_MLFLOW_BACKEND_URI"
    )
    run = new_run(tmp_path / "run", chart)
    assert unknown_settings(run.chart) == [
        "Deployment/driftloop-mlflow/wait-for-role: DRIFTLOOP_MLFLOW_BACKEND_URI",  # its init container's too
        "Deployment/driftloop-mlflow/mlflow: DRIFTLOOP_MLFLOW_BACKEND_URI",
    ]


def test_a_wrong_arg_fails_the_container_before_it_is_ready() -> None:
    root = run_folder()
    try:
        chart = broken_chart(
            root, "templates/evidently.yaml", 'args: ["serve", "evidently-ui"]', 'args: ["serve", "evidently"]'
        )
        run = new_run(root / "run", chart, network="127.78.0.0/24")
        run.start("Deployment/driftloop-evidently")
        with pytest.raises(AssertionError, match=r"exited 2 before it was ready[\s\S]*No such command 'evidently'"):
            run.wait_ready("Deployment/driftloop-evidently", timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_dashboard_metric_nothing_exports_is_a_panel_without_data(parity: ParityRun, tmp_path: Path) -> None:
    dashboard = load_dashboard()
    text = json.dumps(dashboard).replace('"driftloop_drift_share"', '"driftloop_drift_shares"')
    broken = json.loads(text)
    missing = panels_without_data(parity.url("driftloop-prometheus", 9090), broken, timeout=4)
    assert missing == {"Drift share by model version [A]": "driftloop_drift_shares"}
