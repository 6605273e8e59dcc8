"""The demo from an empty state folder, as `make demo` runs it, for each shipped use case, asserting every step
of the loop against the use case's own demo plan (its metric's direction, its drift thresholds)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from pipelines.core.settings import Settings
from pipelines.core.use_case import EVENT_ID, UseCase, load_use_case
from pipelines.data.prediction_log_format import read_prediction_log
from pipelines.data.storage import prediction_log_folder
from tests.integration.local_platform import PlatformUnderTest, free_ports, isolated_env

pytestmark = pytest.mark.e2e
Demo = tuple[PlatformUnderTest, dict, UseCase]  # type: ignore[type-arg]


@pytest.fixture(scope="module", params=["fraud", "delivery"])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    use_case = load_use_case(request.param)
    state = tmp_path_factory.mktemp(f"demo-{use_case.name}") / "state"
    platform = PlatformUnderTest(state, {**isolated_env(state, free_ports()), "DRIFTLOOP_USE_CASE": use_case.name})
    try:
        result = platform.run("demo", "--reset", timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        summary = json.loads((state / "demo" / "summary.json").read_text())
        yield platform, summary, use_case
    finally:
        platform.run("local", "down")


def _better(use_case: UseCase, a: float, b: float) -> bool:
    """Whether `a` is better than `b` in the use case's primary metric."""
    return a > b if use_case.metric.higher_is_better else a < b


def test_the_loop_closes_by_itself(demo: Demo) -> None:
    platform, summary, use_case = demo
    plan = use_case.generator.demo
    assert summary["use_case"] == use_case.name and summary["primary_metric"] == use_case.metric.primary
    assert summary["champion_before"] == "1"
    assert summary["normal_check"]["action"] == "no_trigger"
    assert summary["drift_share_before"] <= plan.healthy_drift_share_max, "healthy traffic raises no alarm"
    assert summary["drift_share_after"] >= plan.drifted_drift_share_min
    assert summary["skew_share"] == 0.0, "served features equal the offline point-in-time ones"
    for check in (summary["normal_check"], summary["drift_check"]):  # 5 of 6 of a phase's answers, at least
        assert check["skew_rows"] >= check["rows"] * 5 // 6 and check["rows"] >= plan.traffic_rows // 2, check
    assert summary["retrain_triggered"] is True and "drift share" in summary["retrain_reason"]
    assert summary["champion_after"] == "2"
    low, high = plan.v1_primary
    assert low <= summary["v1_holdout"] <= high
    assert _better(use_case, summary["v2_holdout"], summary["champion_on_new_holdout"]), "v2 beats v1 on new data"
    evidence = summary["v2_evidence"]  # the gate promoted v2 on evidence: its interval's lower bound above the margin
    assert evidence["metric"] == use_case.metric.evidence_metric, summary["v2_gate_reason"]
    low_bound, high_bound = summary["gate_improvement_ci"]
    assert use_case.gate.margin < low_bound <= high_bound, summary["v2_gate_reason"]
    assert summary["feature_freshness_s"] < 3600
    assert summary["evidently_snapshots"] >= 2
    # Every event reached the platform through its interfaces: the history and the drifted feed landed, the live
    # traffic was answered; labels landed and came back over HTTP.
    lake, feeds = platform.state_dir / "demo" / "lake", ("history", plan.drifted_feed)
    landed = sum(len(pd.read_parquet(lake / f"{name}-events.parquet")) for name in feeds)
    sent = summary["normal_check"]["skew_rows"] + summary["drift_check"]["skew_rows"]
    burst = summary["burst"]["build_up"] + 2 if summary["burst"] else 0  # the live burst's requests, and its twin
    assert summary["events_ingested"] == landed + sent + 1 + burst, "the probe of v1 serving is an event too"
    labels = sum(len(pd.read_parquet(lake / f"{name}-labels.parquet")) for name in feeds)
    assert summary["labels_ingested"] == labels + sent


def test_the_retrain_says_which_signal_fired_and_the_estimate_came_before_the_labels(demo: Demo) -> None:
    """A classifier's champion is estimated while the drifted traffic's labels come back: the drop is reported
    with part of them in, and the retrain names estimated harm. A use case without an estimate retrains on drift,
    and says so."""
    _, summary, use_case = demo
    check = summary["drift_check"]
    if use_case.label.kind == "binary":
        assert "estimated_harm" in summary["retrain_signal"], summary["retrain_reason"]
        assert 0 < summary["estimated_drop_detected_at_maturity"] < 1, "reported before every label was in"
        estimate = check["estimate"]["estimates"][use_case.metric.primary]
        assert estimate["high"] < check["estimate"]["reference"], estimate
        assert "estimated ROC AUC" in summary["retrain_reason"]
        assert summary["normal_check"]["estimate"] is not None, "healthy traffic was estimated too, without harm"
    else:
        assert summary["retrain_signal"] == "drift" and summary["estimated_drop_detected_at_maturity"] is None
        assert check["estimate"] is None and "no quality estimate" not in summary["retrain_reason"]


def test_a_live_burst_is_caught_by_the_streamed_features(demo: Demo) -> None:
    """A use case with streamed views plays its burst while v1 serves, after the normal traffic: the request it
    should be caught at was served with the build-up folded into its streamed counts and scores within the daily
    alert budget; the skew check covered the streamed columns (no skew) and the stream worker kept up. Whether
    v1 also scores it above the same request for a quiet twin depends on the v1 a run trains (the world's hours
    fall differently at each minute: CI's v1 ranked the twin first twice in a row, the same features served);
    the streaming-lift bench measures that lift over many bursts."""
    platform, summary, use_case = demo
    if not any(view.streamed for view in use_case.views):
        assert summary["burst"] is None
        return
    burst = summary["burst"]
    assert burst["caught"] is True, burst
    assert burst["stream_caught_up_s"] < 5, burst
    log = read_prediction_log(prediction_log_folder(Settings(state_dir=platform.state_dir)))
    served = log[log[EVENT_ID] == burst["caught_event_id"]]
    assert len(served) == 1, burst
    counts = [f"{view.name}__{f.name}" for view in use_case.views if view.streamed for f in view.features
              if f.aggregate is not None and f.aggregate.kind == "count"]  # fmt: skip
    assert counts and all(served.iloc[0][name] >= burst["build_up"] for name in counts), served[counts]
    streamed = {f"{view.name}__{f.name}" for view in use_case.views if view.streamed for f in view.features}
    for check in (summary["normal_check"], summary["drift_check"]):
        assert not streamed & set(check["skew_columns"]), check["skew_columns"]
    parity = platform.run("features", "parity", "--sample", "1000")
    assert parity.returncode == 0, parity.stdout + parity.stderr
    results = [json.loads(line) for line in parity.stdout.splitlines()]
    assert {result["view"] for result in results} == {view.name for view in use_case.views if view.streamed}
    assert all(result["mismatched"] == 0 and result["equal"] > 0 for result in results), results


def test_v2_carries_lineage_to_the_retraining_run_and_serves(demo: Demo) -> None:
    platform, summary, use_case = demo
    assert httpx.get(f"{summary['endpoints']['mlflow']}/api/2.0/mlflow/registered-models/search").status_code == 401
    client = platform.registry("driftloop-monitor")
    v2 = client.get_model_version_by_alias(use_case.model_name, "champion")
    assert v2.version == "2"
    run = client.get_run(v2.tags["mlflow_run_id"])
    assert v2.tags["trigger"].startswith("drift:") and run.data.tags["trigger"] == v2.tags["trigger"]
    assert run.data.tags["gate_decision"] == "promote"
    assert summary["drift_check"]["window_key"] in v2.tags["trigger"]
    body = {"instances": [use_case.example_request]}
    endpoint = summary["endpoints"]["inference_v1"]
    assert httpx.post(endpoint, json=body).status_code == 401, "the endpoint needs a credential"
    answer = httpx.post(endpoint, json=body, headers=platform.headers("score")).json()
    assert answer["model_version"] == "2" and len(answer["predictions"]) == 1
    # The drift-triggered run searched its hyperparameters: every trial a nested run, the search on the version.
    budget = json.loads(v2.tags["search.budget"])
    assert v2.tags["search.algorithm"] == "ray-tune:random+asha" and budget["trials"] == 8, v2.tags
    trials = client.search_runs([run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'")
    assert len(trials) == int(v2.tags["search.trials"].split()[0]) >= 2, v2.tags["search.trials"]
    assert {t.data.tags["search.trial"] for t in trials} >= {"1", v2.tags["search.best_trial"].split()[0]}
    chosen = json.loads(v2.tags["search.chosen"])
    assert {k: json.loads(json.loads(v2.tags["params"])[k]) for k in chosen} == pytest.approx(chosen)
    assert summary["v2_search"]["chosen"] == v2.tags["search.chosen"]
    status = platform.run("monitor", "status", "--json")
    decisions = json.loads(status.stdout)["decisions"]
    actions = [d["action"] for d in decisions if d["model_version"] == "1"]
    # The normal traffic's check, then the drifted traffic's as its labels came back: drifted but not (yet) shown
    # harmful while few were in, until one triggered.
    assert actions[0] == "no_trigger" and actions[-1] == "trigger", actions
    assert set(actions[1:-1]) <= {"drifted_harmless"}, actions
    snapshots = list((platform.state_dir / "evidently").rglob("snapshots/*.json"))
    assert len(snapshots) >= 2, "the Evidently workspace holds the drift snapshots"


def test_the_evidently_dashboard_shows_the_loop(demo: Demo) -> None:
    """After the demo the drift project's dashboard has at least six panels with data (the page's own API)."""
    from tests.integration.evidently_api import panel_points, plot_panels, project_id_of

    _, summary, use_case = demo
    ui = summary["endpoints"]["evidently-ui"]
    project_id = project_id_of(ui, f"{use_case.model_name} drift")
    points = {panel["title"]: panel_points(ui, project_id, panel) for panel in plot_panels(ui, project_id)}
    assert sum(count > 0 for count in points.values()) >= 6, points
    assert points["Drift share per check"] >= 2
