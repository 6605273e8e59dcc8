"""The demo from an empty state folder, as `make demo` runs it, asserting every step of the loop."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from tests.integration.local_platform import PlatformUnderTest, free_ports, isolated_env

pytestmark = pytest.mark.e2e
MODEL = "fraud-detector"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformUnderTest, dict]]:  # type: ignore[type-arg]
    state = tmp_path_factory.mktemp("demo") / "state"
    platform = PlatformUnderTest(state, isolated_env(state, free_ports()))
    try:
        result = platform.run("demo", "--reset", timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        summary = json.loads((state / "demo" / "summary.json").read_text())
        yield platform, summary
    finally:
        platform.run("local", "down")


def test_the_loop_closes_by_itself(demo: tuple[PlatformUnderTest, dict]) -> None:  # type: ignore[type-arg]
    platform, summary = demo
    assert summary["champion_before"] == "1"
    assert summary["normal_check"]["action"] == "no_trigger"
    assert summary["drift_share_before"] <= 0.10, "healthy traffic flags at most 1 of 12 columns"
    assert summary["drift_share_after"] >= 0.5
    assert summary["skew_share"] == 0.0, "served features equal the offline point-in-time ones"
    assert summary["normal_check"]["skew_rows"] >= 500 and summary["drift_check"]["skew_rows"] >= 500
    assert summary["retrain_triggered"] is True and "drift share" in summary["retrain_reason"]
    assert summary["champion_after"] == "2"
    assert 0.85 <= summary["v1_holdout_roc_auc"] <= 0.97
    assert summary["champion_auc_on_new_holdout"] < summary["v2_holdout_roc_auc"]
    assert summary["feature_freshness_s"] < 3600
    assert summary["evidently_snapshots"] >= 2
    # Every transaction reached the platform through its interfaces: the history and the wallet feed landed,
    # the live traffic was answered; labels landed and came back over HTTP.
    lake = platform.state_dir / "demo" / "lake"
    landed = sum(len(pd.read_parquet(lake / f"{name}-events.parquet")) for name in ("history", "wallet"))
    sent = summary["normal_check"]["skew_rows"] + summary["drift_check"]["skew_rows"]
    assert summary["events_ingested"] == landed + sent + 1, "the probe of v1 serving is a transaction too"
    labels = sum(len(pd.read_parquet(lake / f"{name}-labels.parquet")) for name in ("history", "wallet"))
    assert summary["labels_ingested"] == labels + sent


def test_v2_carries_lineage_to_the_retraining_run_and_serves(demo: tuple[PlatformUnderTest, dict]) -> None:  # type: ignore[type-arg]
    platform, summary = demo
    assert httpx.get(f"{summary['endpoints']['mlflow']}/api/2.0/mlflow/registered-models/search").status_code == 401
    client = platform.registry("driftloop-monitor")
    v2 = client.get_model_version_by_alias(MODEL, "champion")
    assert v2.version == "2"
    run = client.get_run(v2.tags["mlflow_run_id"])
    assert v2.tags["trigger"].startswith("drift:") and run.data.tags["trigger"] == v2.tags["trigger"]
    assert run.data.tags["gate_decision"] == "promote"
    assert summary["drift_check"]["window_key"] in v2.tags["trigger"]
    body = {"instances": [{"customer_id": 1, "merchant_id": 1, "amount": 12.5, "channel": "online"}]}
    endpoint = summary["endpoints"]["inference_v1"]
    assert httpx.post(endpoint, json=body).status_code == 401, "the endpoint needs a credential"
    answer = httpx.post(endpoint, json=body, headers=platform.headers("score")).json()
    assert answer["model_version"] == "2"
    status = platform.run("monitor", "status", "--json")
    decisions = json.loads(status.stdout)["decisions"]
    assert [d["action"] for d in decisions][-2:] == ["no_trigger", "trigger"]
    snapshots = list((platform.state_dir / "evidently").rglob("snapshots/*.json"))
    assert len(snapshots) >= 2, "the Evidently workspace holds the drift snapshots"


def test_the_evidently_dashboard_shows_the_loop(demo: tuple[PlatformUnderTest, dict]) -> None:  # type: ignore[type-arg]
    """After the demo the drift project's dashboard has at least six panels with data (the page's own API)."""
    from tests.integration.evidently_api import panel_points, plot_panels, project_id_of

    _, summary = demo
    ui = summary["endpoints"]["evidently-ui"]
    project_id = project_id_of(ui)
    points = {panel["title"]: panel_points(ui, project_id, panel) for panel in plot_panels(ui, project_id)}
    assert sum(count > 0 for count in points.values()) >= 6, points
    assert points["Drift share per check"] >= 2
