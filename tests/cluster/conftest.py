"""Static checks of cluster mode: no cluster needed, only the pinned helm and promtool binaries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "driftloop"
VALUE_FILES = {
    "default": None,
    "ci": CHART / "values-ci.yaml",
    "parity": CHART / "values-parity.yaml",
    "ray": CHART / "values-ray.yaml",
    "object-store": CHART / "values-object-store.yaml",
    "delivery": CHART / "values-delivery.yaml",
    "transformer": CHART / "values-transformer.yaml",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: static checks of the Helm chart and cluster assets")


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (platform/driftloop/cluster/scripts/ci-tools.sh installs it)")
    return str(path)


def render(values: Path | None, *extra: str) -> list[dict[str, Any]]:
    from driftloop.cluster.upstream import PINS

    command = [tool("helm"), "template", "driftloop", str(CHART), "--namespace", PINS.kfp_namespace, *extra]
    if values:
        command += ["-f", str(values)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def chart_use_cases() -> list[str]:
    """The use cases the chart accepts: values.schema.json's `useCase` enum."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    return list(schema["properties"]["useCase"]["enum"])


def rendered_rules(use_case: str) -> str:
    """The alert rules Prometheus loads for a use case: the rules.yaml of the rendered Prometheus ConfigMap."""
    objects = render(None, "--set", f"useCase={use_case}", "--show-only", "templates/prometheus.yaml")
    (config,) = [obj for obj in objects if obj["kind"] == "ConfigMap"]
    return str(config["data"]["rules.yaml"])


def chart_values(values: Path | None) -> dict[str, Any]:
    """values.yaml with a value file laid over it, merged the way Helm merges maps."""

    def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in override.items():
            both_maps = isinstance(value, dict) and isinstance(base.get(key), dict)
            merged[key] = merge(base[key], value) if both_maps else value
        return merged

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    return merge(defaults, yaml.safe_load(values.read_text()) if values else {})


@pytest.fixture(scope="session", params=sorted(VALUE_FILES))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(VALUE_FILES[request.param])


def model_name(rendered: list[dict[str, Any]]) -> str:
    """The release's registered model: its InferenceService's name (the use case's unless `modelName` is set)."""
    return str(next(obj for obj in rendered if obj["kind"] == "InferenceService")["metadata"]["name"])


def release_settings(rendered: list[dict[str, Any]]) -> dict[str, str]:
    """The release's settings ConfigMap: the DRIFTLOOP_* variables every driftloop container reads."""
    return dict(
        next(o["data"] for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"].endswith("-settings"))
    )


def model_servers(rendered: list[dict[str, Any]]) -> list[str]:
    """The InferenceService's parts its serving topology (DRIFTLOOP_SERVING_TOPOLOGY) runs, checked against what
    rendered: the predictor alone (`inprocess`: it looks features up itself, the endpoint), or the transformer in
    front of it (`transformer`)."""
    topology = release_settings(rendered)["DRIFTLOOP_SERVING_TOPOLOGY"]
    expected = {"inprocess": ["predictor"], "transformer": ["predictor", "transformer"]}[topology]
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    assert [part for part in ("predictor", "transformer") if part in isvc["spec"]] == expected, topology
    return expected


def endpoint_component(rendered: list[dict[str, Any]]) -> str:
    """The InferenceService component clients reach: the last of its model servers (the one in front)."""
    return model_servers(rendered)[-1]


def streams(rendered: list[dict[str, Any]]) -> bool:
    """Whether the release's use case (its settings' DRIFTLOOP_USE_CASE) declares streamed views, so the stream's
    Redis and workers must render (every value file keeps `stream.enabled`)."""
    from pipelines.core.use_case import load_use_case

    return any(view.streamed for view in load_use_case(release_settings(rendered)["DRIFTLOOP_USE_CASE"]).views)
