"""CONTRACT TEST against a stand-in of the KFP v2beta1 REST API (no KFP API server can run here).

The stand-in implements only the endpoints `kfp.Client` 2.17 calls to submit and poll a run, and records
what it received. It checks our cluster runner speaks that API the way `kfp.Client` does and submits
the compiled IR with the request's parameters; it does not prove KFP would run the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import free_port
from tests.kfp_api_stand_in import StandInKfpApi, serving

pytestmark = pytest.mark.contract


@pytest.fixture(autouse=True)
def own_state_folder(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test's run records in a folder of its own, never the checkout's `.driftloop`."""
    from pipelines.core.settings import get_settings

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


@pytest.fixture
def kfp_api() -> Iterator[tuple[StandInKfpApi, str]]:
    stand_in = StandInKfpApi()
    with serving(stand_in, "127.0.0.1", free_port()) as url:
        yield stand_in, url


def test_cluster_runner_submits_the_compiled_pipeline_and_polls_its_state(
    kfp_api: tuple[StandInKfpApi, str], clean_env: pytest.MonkeyPatch
) -> None:
    from driftloop.pipeline_runs.kfp_runner import KfpApiRunner
    from pipelines.core.settings import Settings
    from pipelines.core.training_request import TrainingRequest
    from pipelines.kfp.cluster_wiring import STATE_DIR
    from pipelines.kfp.compile import COMPILED_PIPELINE

    stand_in, url = kfp_api
    clean_env.setenv("DRIFTLOOP_MODE", "kind")
    clean_env.setenv("DRIFTLOOP_KFP_HOST", url)
    settings = Settings()
    runner = KfpApiRunner(settings)
    request = TrainingRequest.from_settings(settings, trigger="drift:v1:window")

    handle = runner.submit(request)
    assert handle == "kfp:run-1"
    run = stand_in.runs["run-1"]
    assert run["experiment_id"] == "exp-1"
    assert stand_in.experiments["exp-1"]["display_name"] == settings.mlflow_experiment
    # With a platform config, kfp.Client sends the pipeline spec and the Kubernetes config side by side.
    submitted_spec = run["pipeline_spec"]["pipeline_spec"]
    compiled, platform = yaml.safe_load_all(COMPILED_PIPELINE.read_text())
    assert submitted_spec["pipelineInfo"] == compiled["pipelineInfo"]
    assert submitted_spec["root"]["dag"]["tasks"].keys() == compiled["root"]["dag"]["tasks"].keys()
    executors = run["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors.keys() == platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"].keys()
    assert all(executor["pvcMount"][0]["mountPath"] == STATE_DIR for executor in executors.values())
    parameters = run["runtime_config"]["parameters"]
    assert parameters["trigger"] == "drift:v1:window"
    assert parameters["seed"] == settings.seed and parameters["mlflow_run_id"] == ""
    assert run["display_name"] == "training (drift:v1:window)"

    assert runner.is_active(handle) is True
    stand_in.runs["run-1"]["state"] = "SUCCEEDED"
    assert runner.is_active(handle) is False
    paths = [(method, path) for method, path, _ in stand_in.requests]
    assert ("POST", "/apis/v2beta1/runs") in paths and ("GET", "/apis/v2beta1/runs/run-1") in paths


def test_pipeline_submit_asks_for_the_event_store_window_not_host_paths(
    kfp_api: tuple[StandInKfpApi, str], clean_env: pytest.MonkeyPatch
) -> None:
    """`driftloop pipeline submit` (what `make pipeline` runs on the host) asks for a window of the event store,
    which the tasks read on the release volume; nothing of the host's file system reaches the run."""
    from typer.testing import CliRunner

    from driftloop.cli import app
    from pipelines.core.settings import Settings

    stand_in, url = kfp_api
    result = CliRunner().invoke(app, ["pipeline", "submit", "--kfp-host", url, "--trigger", "make pipeline"])
    assert result.exit_code == 0, result.output
    assert "submitted KFP run run-1" in result.output
    parameters = stand_in.runs["run-1"]["runtime_config"]["parameters"]
    assert parameters["window_days"] == Settings().training_window_days
    assert parameters["window_end"] == "", "the window ends when the run starts, on the cluster's clock"
    assert not any("path" in name or "/" in str(value) for name, value in parameters.items())
    assert parameters["trigger"] == "make pipeline"


def test_pipeline_submit_passes_its_holdout_and_maturity_options_to_the_run(
    kfp_api: tuple[StandInKfpApi, str], clean_env: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from driftloop.cli import app

    stand_in, url = kfp_api
    options = ["--holdout-days", "4", "--label-maturity-days", "2"]
    result = CliRunner().invoke(app, ["pipeline", "submit", "--kfp-host", url, *options])
    assert result.exit_code == 0, result.output
    parameters = stand_in.runs["run-1"]["runtime_config"]["parameters"]
    assert (parameters["holdout_days"], parameters["label_maturity_days"]) == (4, 2)


def test_pipeline_submit_json_is_one_object_naming_the_run(
    kfp_api: tuple[StandInKfpApi, str], clean_env: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from driftloop.cli import app
    from pipelines.core.settings import Settings

    stand_in, url = kfp_api
    result = CliRunner().invoke(app, ["pipeline", "submit", "--kfp-host", url, "--trigger", "nightly", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert (shown["kfp_run_id"], shown["mode"], shown["pipeline"]) == ("run-1", "kfp", "driftloop-training")
    assert shown["parameters"]["trigger"] == "nightly"
    assert shown["parameters"]["window_days"] == Settings().training_window_days
    assert stand_in.runs["run-1"]["runtime_config"]["parameters"]["trigger"] == "nightly"


def test_cluster_runner_needs_the_kfp_host(clean_env: pytest.MonkeyPatch) -> None:
    """Local settings without a KFP address (`pipeline submit` without --kfp-host) cannot submit."""
    from driftloop.pipeline_runs.kfp_runner import KfpApiRunner
    from pipelines.core.errors import DriftloopError
    from pipelines.core.settings import Settings

    with pytest.raises(DriftloopError, match="DRIFTLOOP_KFP_HOST"):
        KfpApiRunner(Settings())


TWO_STEPS = Path(__file__).resolve().parents[1] / "user_pipelines" / "two_steps.py"


@pytest.fixture
def cluster_cli(kfp_api: tuple[StandInKfpApi, str]) -> tuple[StandInKfpApi, str, Any]:
    """The CLI beside the stand-in."""
    from typer.testing import CliRunner

    from driftloop.cli import app

    stand_in, url = kfp_api
    return stand_in, url, lambda *arguments: CliRunner().invoke(app, list(arguments))


def test_a_user_pipeline_file_is_submitted_to_kfp_and_its_run_read_back(
    cluster_cli: tuple[StandInKfpApi, str, Any],
) -> None:
    """`pipeline submit FILE --kfp-host` compiles the file's pipeline and submits it with typed parameters; `runs`
    and `get` refresh the record from get_run: state, finish time, and each step's state and times."""
    stand_in, url, cli = cluster_cli
    result = cli("pipeline", "submit", str(TWO_STEPS), "--param", "times=4", "--kfp-host", url, "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert (record["mode"], record["kfp_run_id"], record["kfp_host"]) == ("kfp", "run-1", url)
    assert record["status"] == "submitted" and record["parameters"] == {"name": "world", "times": 4}
    run = stand_in.runs["run-1"]
    assert run["runtime_config"]["parameters"] == {"times": 4}, "typed as the pipeline declares: an integer"
    spec = run["pipeline_spec"]
    assert spec["pipelineInfo"]["name"] == "two-steps"
    assert set(spec["root"]["dag"]["tasks"]) == {"make-greeting", "count-words"}
    assert run["display_name"] == f"two-steps ({record['id']})"

    result = cli("pipeline", "runs", "--json")
    assert result.exit_code == 0, result.output
    (listed,) = json.loads(result.stdout)
    assert listed["id"] == record["id"] and listed["status"] == "running"  # refreshed: the stand-in says RUNNING

    tasks = {"make-greeting": "SUCCEEDED", "count-words": "SUCCEEDED"}
    stand_in.finish("run-1", "SUCCEEDED", tasks, "2026-12-05T10:00:00Z", "2026-12-05T10:00:42Z")
    result = cli("pipeline", "get", "run-1", "--json")  # the KFP run id finds the record too
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["status"] == "succeeded" and shown["finished_at"] == "2026-12-05T10:00:42.000+00:00"
    assert [(s["name"], s["status"], s["duration_s"]) for s in shown["steps"]] == [
        ("make-greeting", "succeeded", 42.0),
        ("count-words", "succeeded", 42.0),
    ], "KFP's own tasks (root, drivers) are not steps"
    paths = [(method, path) for method, path, _ in stand_in.requests]
    assert ("GET", "/apis/v2beta1/runs/run-1") in paths
    stored = json.loads(cli("pipeline", "runs", "--json").stdout)
    assert stored[0]["status"] == "succeeded", "the refreshed state is kept in the record"


def test_a_failed_cluster_step_shows_as_failed_and_the_rest_skipped(
    cluster_cli: tuple[StandInKfpApi, str, Any],
) -> None:
    stand_in, url, cli = cluster_cli
    assert cli("pipeline", "submit", str(TWO_STEPS), "--kfp-host", url).exit_code == 0
    stand_in.finish("run-1", "FAILED", {"make-greeting": "FAILED"}, "2026-12-05T10:00:00Z", "2026-12-05T10:00:05Z")
    result = cli("pipeline", "get", "run-1")
    assert result.exit_code == 0, result.output
    assert "status     failed" in result.output
    assert [line.split()[:2] for line in result.output.splitlines()[-2:]] == [
        ["make-greeting", "failed"],
        ["count-words", "skipped"],
    ]


def test_the_built_in_training_pipeline_is_recorded_when_submitted(cluster_cli: tuple[StandInKfpApi, str, Any]) -> None:
    stand_in, url, cli = cluster_cli
    result = cli("pipeline", "submit", "--kfp-host", url, "--param", "window_days=12", "--seed", "7")
    assert result.exit_code == 0, result.output
    parameters = stand_in.runs["run-1"]["runtime_config"]["parameters"]
    assert (parameters["window_days"], parameters["seed"]) == (12, 7)
    (record,) = json.loads(cli("pipeline", "runs", "--json").stdout)
    assert record["pipeline"] == "driftloop-training" and record["kfp_run_id"] == "run-1"
    assert "register-model" in [step["name"] for step in record["steps"]]
