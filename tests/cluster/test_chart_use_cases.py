"""The chart runs every use case it accepts: its table of them matches their declarations, the selected one names
the model everywhere, and its realised-quality alert fires on its own metric, threshold and direction."""

from __future__ import annotations

import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from pipelines.core.use_case import USE_CASE_GROUP, load_use_case
from tests.cluster.conftest import CHART, REPO, chart_use_cases, model_servers, render, rendered_rules, tool

pytestmark = pytest.mark.cluster
FILES = CHART / "files"
TABLE = yaml.safe_load((FILES / "use-cases.yaml").read_text())


def test_the_chart_accepts_exactly_the_use_cases_the_package_ships() -> None:
    """The schema's enum, the chart's table and the package's entry points (what the image installs) agree."""
    shipped = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][USE_CASE_GROUP]
    assert sorted(chart_use_cases()) == sorted(TABLE) == sorted(shipped)


@pytest.mark.parametrize("name", chart_use_cases())
def test_the_charts_row_of_a_use_case_is_its_declaration(name: str) -> None:
    declared = load_use_case(name)
    assert TABLE[name] == {
        "modelName": declared.model_name,
        "primaryMetric": declared.metric.primary,
        "higherIsBetter": declared.metric.higher_is_better,
        "realisedAlert": declared.gate.realised_alert,
        "streamed": any(view.streamed for view in declared.views),
    }


@pytest.mark.parametrize("name", chart_use_cases())
def test_the_selected_use_case_names_the_model_everywhere(name: str) -> None:
    """The InferenceService, its probes and Service, the settings, the scrape targets and the NetworkPolicies
    follow the use case's model, and no other use case's model name is left anywhere in the release."""
    model = load_use_case(name).model_name
    objects = render(None, "--set", f"useCase={name}")
    (isvc,) = [obj for obj in objects if obj["kind"] == "InferenceService"]
    assert isvc["metadata"]["name"] == model
    for part in model_servers(objects):
        (container,) = isvc["spec"][part]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == f"/v2/models/{model}/ready", part
    settings = next(obj["data"] for obj in objects if obj["metadata"]["name"] == "driftloop-settings")
    assert (settings["DRIFTLOOP_USE_CASE"], settings["DRIFTLOOP_MODEL_NAME"]) == (name, model)
    (service,) = [obj for obj in objects if obj["metadata"]["name"] == "driftloop-inference"]
    assert service["spec"]["selector"]["serving.kserve.io/inferenceservice"] == model
    named = {(obj["kind"], obj["metadata"]["name"]): obj for obj in objects}
    prometheus = named[("ConfigMap", "driftloop-prometheus")]["data"]["prometheus.yml"]
    assert f"{model}-predictor:80" in prometheus
    policies = json.dumps([obj for obj in objects if obj["kind"] == "NetworkPolicy"])
    # The default policy, the endpoint's (the in-process predictor), and the stream's (a publisher) when the use
    # case streams; with the transformer in front, also the predictor's own (itself and its caller).
    streamed = any(view.streamed for view in load_use_case(name).views)
    assert policies.count(f'"serving.kserve.io/inferenceservice": "{model}"') == 2 + streamed
    objects = render(None, "--set", f"useCase={name}", "--set", "serving.topology=transformer")
    prometheus = next(o for o in objects if o["metadata"]["name"] == "driftloop-prometheus")["data"]["prometheus.yml"]
    assert f"{model}-predictor:80" in prometheus and f"{model}-transformer:80" in prometheus
    policies = json.dumps([obj for obj in objects if obj["kind"] == "NetworkPolicy"])
    assert policies.count(f'"serving.kserve.io/inferenceservice": "{model}"') == 4 + streamed
    everything = json.dumps(objects)
    for other in set(chart_use_cases()) - {name}:
        assert load_use_case(other).model_name not in everything, other


def test_a_model_name_set_in_values_wins_over_the_use_cases() -> None:
    objects = render(None, "--set", "useCase=delivery", "--set", "modelName=eta-v2")
    (isvc,) = [obj for obj in objects if obj["kind"] == "InferenceService"]
    settings = next(obj["data"] for obj in objects if obj["metadata"]["name"] == "driftloop-settings")
    assert isvc["metadata"]["name"] == settings["DRIFTLOOP_MODEL_NAME"] == "eta-v2"
    assert "delivery-eta" not in json.dumps(objects)


@pytest.mark.parametrize("name", chart_use_cases())
def test_each_use_cases_rules_check_and_every_alert_fires_when_it_should(name: str, tmp_path: Path) -> None:
    """promtool on the rules as rendered for the use case: the shared tests, then its realised-quality alert's."""
    promtool = tool("promtool")
    (tmp_path / "prometheus-rules.yaml").write_text(rendered_rules(name))
    own = f"prometheus-rules-test-{name}.yaml"
    for test_file in ("prometheus-rules-test.yaml", own):
        assert (FILES / test_file).exists(), f"add {test_file}: the realised-quality alert of {name} is untested"
        shutil.copy(FILES / test_file, tmp_path / test_file)
    checked = subprocess.run(
        [promtool, "check", "rules", "prometheus-rules.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [promtool, "test", "rules", "prometheus-rules-test.yaml", own], cwd=tmp_path, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.count("SUCCESS") == 2, tested.stdout
