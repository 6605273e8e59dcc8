"""The drift project's dashboard, read back from a real Evidently UI server: panels present, and every panel's
series has points after a few checks; then a headless Chromium opens the project page as a person would.

The snapshots are the monitor's own: drift reports on a drifting stream, skew checks, and realised-quality
snapshots for two model versions, saved through `monitoring.workspace` (which keeps the dashboard in step).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.conftest import free_port
from tests.integration.evidently_api import panel_points, project_id_of
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.schema import AMOUNT, CHANNELS, FEATURE_VIEW_COLUMNS, MODEL_INPUT_COLUMNS

pytestmark = pytest.mark.integration

PROJECT = "fraud-detector drift"
EVIDENTLY = str(Path(sys.executable).with_name("evidently"))
EMPTY_MESSAGE = "This dashboard is currently empty"
PLOT_AXIS = "Timestamps"  # the x-axis title the UI draws under a plot that has points


def _window(rows: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({column: rng.gamma(2.0 + shift, 3.0, rows) for column in FEATURE_VIEW_COLUMNS})
    frame[AMOUNT] = rng.lognormal(3.5 + shift, 1.0, rows)
    frame["channel"] = rng.choice(list(CHANNELS), rows)
    frame["prediction"] = rng.beta(1, 20 - 10 * shift, rows)
    return frame[[*MODEL_INPUT_COLUMNS, "prediction"]]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from monitoring.dashboard import DRIFT_TAG, DashboardPlan, version_tag
    from monitoring.drift import MonitoredColumns, run_drift_report
    from monitoring.workspace import quality_snapshot, save_snapshot, skew_snapshot
    from use_cases.fraud import USE_CASE as FRAUD

    folder = tmp_path_factory.mktemp("evidently")
    plan = DashboardPlan.of(FRAUD)
    reference = _window(600, 0.0, seed=1)
    for check, (version, shift) in enumerate([("1", 0.0), ("1", 0.1), ("1", 0.8), ("2", 0.0)]):
        drift = run_drift_report(
            reference,
            _window(400, shift, seed=10 + check),
            MonitoredColumns.of(FRAUD),
            tags=[DRIFT_TAG, version_tag(version)],
        )
        save_snapshot(folder, PROJECT, drift.snapshot, f"check {check}", 0.5, version, plan=plan)
        save_snapshot(folder, PROJECT, skew_snapshot(400, check, {}), f"skew {check}", 0.5, plan=plan)
    rng = np.random.default_rng(3)
    for hour, version in enumerate(["1", "1", "2"]):
        labels = pd.Series(rng.integers(0, 2, 200))
        scores = pd.Series(np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1))
        stamp = pd.Timestamp("2026-11-26T10:00", tz="UTC") + pd.Timedelta(hours=hour)
        save_snapshot(
            folder,
            PROJECT,
            quality_snapshot(version, scores, labels, stamp),
            f"quality {hour}",
            0.5,
            version,
            plan=plan,
        )
    return folder


@pytest.fixture(scope="module")
def ui(workspace: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [EVIDENTLY, "ui", "--host", "127.0.0.1", "--port", str(port), "--workspace", str(workspace)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v2/projects", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("the Evidently UI did not come up")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_every_panel_of_the_dashboard_has_data(ui: str) -> None:
    project_id = project_id_of(ui)
    dashboard = httpx.get(f"{ui}/api/v2/dashboards/{project_id}", timeout=10).json()
    plots = [p for p in dashboard["panels"] if p["plot_params"].get("plot_type") != "text"]
    titles = [p["title"] for p in plots]
    assert len(plots) >= 6, titles
    assert any(t.startswith("Model version 1") for t in titles) and any(t.startswith("Model version 2") for t in titles)
    points = {p["title"]: panel_points(ui, project_id, p) for p in plots}
    assert all(count > 0 for count in points.values()), points
    assert points["Drift share per check"] == 4 and points["Training/serving skew share"] == 4
    version_1 = next(p for p in plots if p["title"].startswith("Model version 1"))
    assert panel_points(ui, project_id, version_1) == 3 + 2  # three checks' mean score, two hours' realised ROC AUC


def test_the_dashboard_is_rebuilt_only_when_the_wanted_panels_change(workspace: Path, tmp_path: Path) -> None:
    from evidently.ui.workspace import Workspace

    from monitoring.dashboard import DashboardPlan, ensure_dashboard

    copy = shutil.copytree(workspace, tmp_path / "workspace")  # the UI's workspace keeps its panels
    evidently = Workspace(str(copy))
    project_id = evidently.search_project(PROJECT)[0].id
    assert ensure_dashboard(evidently, project_id, 0.5, "2", DashboardPlan.of(FRAUD)) is False
    assert ensure_dashboard(evidently, project_id, 0.5, "3", DashboardPlan.of(FRAUD)) is True
    titles = [p.title for p in evidently.get_project(project_id).dashboard.model().panels]
    assert [t.split(":")[0] for t in titles if t.startswith("Model version")] == [
        "Model version 1",
        "Model version 2",
        "Model version 3",
    ]


def _page_text(html: str) -> str:
    without_code = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", without_code))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_project_page_shows_panels_with_data_in_a_browser(ui: str, tmp_path: Path) -> None:
    """What a person sees: every plot panel drawn with its time axis (a panel without data has none)."""
    project_id = project_id_of(ui)
    html = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path}",
         "--virtual-time-budget=20000", "--dump-dom", f"{ui}/projects/{project_id}"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    text = _page_text(html)
    assert EMPTY_MESSAGE not in text and "Something went wrong" not in text, text[:1000]
    dashboard = httpx.get(f"{ui}/api/v2/dashboards/{project_id}", timeout=10).json()
    titles = [p["title"] for p in dashboard["panels"] if p["plot_params"].get("plot_type") != "text"]
    starts = [text.index(title) for title in titles]  # every panel is on the page, in order
    for title, start, end in zip(titles, starts, [*starts[1:], len(text)], strict=True):
        assert PLOT_AXIS in text[start:end], f"panel {title!r} shows no data: {text[start:end][:300]}"
