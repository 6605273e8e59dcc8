"""The stream in the chart: its own Redis with its records on a volume, the workers as a StatefulSet whose pod ordinal
is the worker index, the settings publishers and workers read, who may reach the stream, and its service level. It
runs for a use case with streamed views (fraud_streaming's card and merchant velocity, `STREAMING`)."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from driftloop.cluster.upstream import PINS
from pipelines.core.settings import Settings, env_var_name
from pipelines.core.use_case import load_use_case
from pipelines.kfp import cluster_wiring as wiring
from tests.cluster.conftest import (
    CHART,
    VALUE_FILES,
    chart_use_cases,
    chart_values,
    model_name,
    render,
    rendered_rules,
    streams,
    tool,
)
from tests.cluster.rendered_objects import admits, containers, pod_labels, selects

pytestmark = pytest.mark.cluster
RELEASE = "driftloop"
WORKER = f"{RELEASE}-stream-worker"
STREAM_REDIS = f"{RELEASE}-stream-redis"
POD_INDEX = "metadata.labels['apps.kubernetes.io/pod-index']"
SCRAPE_JOB = "driftloop-stream-worker"
STREAMING = ("--set", "useCase=fraud_streaming")  # the shipped use case with streamed views


def _objects(rendered: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in rendered}


def _settings(rendered: list[dict[str, Any]]) -> dict[str, str]:
    return dict(_objects(rendered)[("ConfigMap", wiring.SETTINGS_CONFIG_MAP)]["data"])


def _secrets(rendered: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        obj["metadata"]["name"]: {key: base64.b64decode(value).decode() for key, value in obj.get("data", {}).items()}
        for obj in rendered
        if obj["kind"] == "Secret"
    }


def _workloads(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = ("Deployment", "StatefulSet", "CronJob", "Job")
    return {pod_labels(obj)["app.kubernetes.io/component"]: obj for obj in rendered if obj["kind"] in kinds}


def _worker_container(objects: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    (container,) = objects[("StatefulSet", WORKER)]["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _redis_bytes(quantity: str) -> int:
    """Redis's memory units (`mb` is MiB) and Kubernetes's (`Mi`, `Gi`)."""
    number, unit = re.fullmatch(r"(\d+)([a-zA-Z]+)", quantity).groups()  # type: ignore[union-attr]
    units = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}
    return int(number) * units[unit]


@pytest.mark.parametrize("workers", [1, 3])
def test_the_workers_are_a_statefulset_whose_pod_ordinal_is_the_worker_index(workers: int) -> None:
    """Worker i keeps the partitions p with p % workers == i: the count is the replicas', the index the pod's
    ordinal (the pod-index label, which the StatefulSet controller sets from Kubernetes 1.28, GA in 1.32), and
    Prometheus scrapes each worker by its own pod name on the port of its /metrics, which is also its health."""
    assert tuple(map(int, PINS.kubernetes_version.split("."))) >= (1, 28), "no pod-index label before 1.28"
    objects = _objects(render(None, *STREAMING, "--set", f"stream.workers={workers}"))
    worker = objects[("StatefulSet", WORKER)]
    spec = worker["spec"]
    assert spec["replicas"] == workers and spec["podManagementPolicy"] == "Parallel"
    service = objects[("Service", spec["serviceName"])]
    assert service["spec"]["clusterIP"] == "None" and service["spec"]["publishNotReadyAddresses"] is True
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(worker))

    container = _worker_container(objects)
    assert container["args"] == ["serve", "stream"]
    env = {variable["name"]: variable for variable in container["env"]}
    assert env["DRIFTLOOP_STREAM_WORKERS"]["value"] == str(workers)
    assert env["DRIFTLOOP_STREAM_WORKER_INDEX"]["valueFrom"] == {"fieldRef": {"fieldPath": POD_INDEX}}
    port = int(env["DRIFTLOOP_STREAM_PORT"]["value"])
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"metrics": port}
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, probe
    assert service["spec"]["ports"] == [{"name": "metrics", "port": port, "targetPort": port}]

    prometheus = objects[("ConfigMap", f"{RELEASE}-prometheus")]["data"]
    (job,) = [j for j in yaml.safe_load(prometheus["prometheus.yml"])["scrape_configs"] if j["job_name"] == SCRAPE_JOB]
    targets = [target for config in job["static_configs"] for target in config["targets"]]
    assert targets == [f"{WORKER}-{index}.{spec['serviceName']}:{port}" for index in range(workers)]
    assert f'up{{job="{SCRAPE_JOB}"}}' in prometheus["rules.yaml"], "StreamWorkerDown watches this job"


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_every_driftloop_variable_is_a_setting_and_each_worker_reads_its_own_index(
    values: str, clean_env: pytest.MonkeyPatch
) -> None:
    """The settings ConfigMap and every driftloop container name only real settings (extra variables would be
    ignored silently), and what a worker pod and the predictor get reads as valid settings: the stream's URL and
    password, the values' partitions, retention and objective, and each pod's index below the count."""
    rendered = render(VALUE_FILES[values], *STREAMING)
    objects, settings_map, secrets = _objects(rendered), _settings(rendered), _secrets(rendered)
    stream = chart_values(VALUE_FILES[values])["stream"]
    known = {env_var_name(name) for name in Settings.model_fields}
    named = [f"ConfigMap: {name}" for name in settings_map if name.startswith("DRIFTLOOP_")]
    for where, container, _ in containers(rendered):
        if str(container["image"]).startswith("driftloop:"):
            named += [f"{where}: {v['name']}" for v in container.get("env", []) if v["name"].startswith("DRIFTLOOP_")]
    assert [entry for entry in named if entry.rsplit(": ", 1)[1] not in known] == []

    if not streams(rendered):
        assert [name for name in settings_map if "STREAM" in name or "FRESHNESS" in name] == []
        return
    predictor = objects[("InferenceService", model_name(rendered))]["spec"]["predictor"]["containers"][0]
    pods = [(predictor, 0)] + [(_worker_container(objects), index) for index in range(stream["workers"])]
    for container, index in pods:
        for name in [name for name in os.environ if name.startswith("DRIFTLOOP_")]:
            clean_env.delenv(name)
        for name, value in _pod_env(container, settings_map, secrets, index).items():
            clean_env.setenv(name, value)
        read = Settings()
        assert read.stream_url == f"redis://{STREAM_REDIS}.{PINS.kfp_namespace}.svc.cluster.local:6379/0"
        assert read.stream_password is not None
        assert read.stream_password.get_secret_value() == secrets[wiring.DATABASE_SECRET]["stream-password"]
        assert (read.stream_partitions, read.stream_retention_s) == (stream["partitions"], stream["retentionSeconds"])
        assert read.freshness_objective_s == stream["freshnessObjectiveSeconds"]
        if container["name"] == "stream-worker":
            assert (read.stream_worker_index, read.stream_workers) == (index, stream["workers"])


def _pod_env(
    container: dict[str, Any], settings_map: dict[str, str], secrets: dict[str, dict[str, str]], index: int
) -> dict[str, str]:
    """A container's DRIFTLOOP_* variables as the kubelet sets them in the pod of ordinal `index`."""
    env = {name: value for name, value in settings_map.items() if name.startswith("DRIFTLOOP_")}
    for variable in container.get("env", []):
        source = variable.get("valueFrom", {})
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        elif source.get("fieldRef", {}).get("fieldPath") == POD_INDEX:
            env[variable["name"]] = str(index)
        elif "secretKeyRef" in source and source["secretKeyRef"]["name"] in secrets:
            env[variable["name"]] = secrets[source["secretKeyRef"]["name"]][source["secretKeyRef"]["key"]]
    return {name: value for name, value in env.items() if name.startswith("DRIFTLOOP_")}


def test_the_stream_has_a_redis_of_its_own_that_keeps_its_records_on_a_volume() -> None:
    """A restarted worker rebuilds its windows from the retained records: append-only file (fsync'd as values
    say) on a claim of the StatefulSet, never evicted, its ceiling under the memory limit (a rewrite forks); its
    own Service and password. The online store's Redis stays without persistence."""
    rendered = render(None, *STREAMING)
    objects, values = _objects(rendered), chart_values(None)["stream"]["redis"]
    redis = objects[("StatefulSet", STREAM_REDIS)]
    (container,) = redis["spec"]["template"]["spec"]["containers"]
    args = container["args"]

    def arg(flag: str) -> str:
        return str(args[args.index(flag) + 1])

    assert (arg("--appendonly"), arg("--appendfsync"), arg("--save")) == ("yes", values["appendfsync"], "")
    assert arg("--maxmemory-policy") == "noeviction"
    assert _redis_bytes(arg("--maxmemory")) <= 0.75 * _redis_bytes(container["resources"]["limits"]["memory"])
    (claim,) = redis["spec"]["volumeClaimTemplates"]
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert mounts[arg("--dir")] == claim["metadata"]["name"]
    assert claim["spec"]["resources"]["requests"]["storage"] == values["storage"]
    assert container["image"] == chart_values(None)["upstreamImages"]["redis"]

    service = objects[("Service", redis["spec"]["serviceName"])]
    assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(redis))
    (port,) = service["spec"]["ports"]
    assert _settings(rendered)["DRIFTLOOP_STREAM_URL"] == (
        f"redis://{service['metadata']['name']}.{PINS.kfp_namespace}.svc.cluster.local:{port['port']}/0"
    )
    (online,) = objects[("Deployment", f"{RELEASE}-redis")]["spec"]["template"]["spec"]["containers"]
    assert online["args"][online["args"].index("--appendonly") + 1] == "no"
    passwords = _secrets(rendered)[wiring.DATABASE_SECRET]
    assert len(passwords["stream-password"]) >= 32 and passwords["stream-password"] != passwords["redis-password"]


def test_only_the_publishers_and_the_workers_reach_the_stream(rendered: list[dict[str, Any]]) -> None:
    """The predictor (its answers; `driftloop data ingest` exec'd in its pod), the Feast job (its landing of events)
    and the workers; not the transformer, the jobs, Prometheus, KFP's training tasks or KFP's own pods."""
    policies = [obj for obj in rendered if obj["kind"] == "NetworkPolicy"]
    if not streams(rendered):
        assert not [p for p in policies if p["metadata"]["name"] == f"{RELEASE}-allow-stream"]
        return
    workloads = _workloads(rendered)
    stream = pod_labels(workloads["stream-redis"])
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    name = isvc["metadata"]["name"]
    predictor = {**isvc["metadata"]["labels"], "serving.kserve.io/inferenceservice": name, "component": "predictor"}
    transformer = {**predictor, "component": "transformer"}
    for publisher in (predictor, pod_labels(workloads["feast-apply"]), pod_labels(workloads["stream-worker"])):
        assert admits(policies, publisher, stream, 6379), publisher
    assert not admits(policies, predictor, stream, 6380)
    others = [pod_labels(workloads[c]) for c in ("drift", "feature-refresh", "quality", "prometheus", "mlflow")]
    for outsider in (transformer, *others, wiring.POD_LABELS, {"app": "ml-pipeline"}):
        assert not admits(policies, outsider, stream, 6379), outsider


def test_the_stream_password_goes_to_the_publishers_and_the_workers_only(rendered: list[dict[str, Any]]) -> None:
    holders = {}
    for where, container, _ in containers(rendered):
        for variable in container.get("env", []):
            if variable["name"] == "DRIFTLOOP_STREAM_PASSWORD":
                holders[where] = variable["valueFrom"]["secretKeyRef"]
    publishers = {
        f"InferenceService/{model_name(rendered)}/predictor/kserve-container",
        f"Job/{RELEASE}-feast-apply/land-demo-events",  # a landing of labels publishes nothing
        f"StatefulSet/{WORKER}/stream-worker",
    }
    assert set(holders) == (publishers if streams(rendered) else set())
    assert all(ref == {"name": wiring.DATABASE_SECRET, "key": "stream-password"} for ref in holders.values())


def test_the_freshness_objective_is_one_value_for_the_settings_the_alert_and_the_dashboard() -> None:
    rendered = render(None, *STREAMING, "--set-json", "stream.freshnessObjectiveSeconds=0.5")
    assert _settings(rendered)["DRIFTLOOP_FRESHNESS_OBJECTIVE_S"] == "0.5"
    rules = yaml.safe_load(_objects(rendered)[("ConfigMap", f"{RELEASE}-prometheus")]["data"]["rules.yaml"])
    (group,) = [group for group in rules["groups"] if group["name"] == "driftloop-stream"]
    by_name = {rule.get("alert") or rule.get("record"): rule for rule in group["rules"]}
    assert by_name["FeatureFreshnessSlow"]["expr"].endswith("> 0.5")
    assert "driftloop_stream_freshness_seconds_bucket" in by_name["FeatureFreshnessSlow"]["expr"]
    (objective,) = [name for name in by_name if name.endswith("objective_seconds")]
    assert by_name[objective]["expr"] == "vector(0.5)"
    dashboard = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    (panel,) = [p for p in dashboard["panels"] if "driftloop_stream_freshness_seconds_bucket" in json.dumps(p)]
    assert {target["expr"] for target in panel["targets"]} >= {objective}, "the objective's line is the alert's"
    assert {"StreamWorkerBehind", "StreamWorkerDown"} <= set(by_name)


@pytest.mark.parametrize("setting", ["stream.enabled=false", "useCase=delivery"])
def test_without_the_stream_or_a_streamed_view_nothing_of_it_renders(setting: str) -> None:
    """Turned off, or a use case without streamed views (`driftloop serve stream` would have nothing to keep)."""
    assert not any(view.streamed for view in load_use_case("delivery").views), "pick a use case that streams nothing"
    rendered = render(None, "--set", setting)
    assert [name for (_, name) in _objects(rendered) if "stream" in name] == []
    assert [name for name in _settings(rendered) if "STREAM" in name or "FRESHNESS" in name] == []
    assert not [where for where, c, _ in containers(rendered) if "stream" in json.dumps(c.get("env", []))]
    prometheus = _objects(rendered)[("ConfigMap", f"{RELEASE}-prometheus")]["data"]
    assert SCRAPE_JOB not in prometheus["prometheus.yml"] and "driftloop-stream" not in prometheus["rules.yaml"]


def test_more_workers_than_partitions_is_refused() -> None:
    command = [tool("helm"), "template", RELEASE, str(CHART), *STREAMING, "--set", "stream.workers=9"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode != 0
    assert "stream.workers (9) is above stream.partitions (8)" in result.stderr


def test_the_stream_alerts_fire_when_they_should(tmp_path: Path) -> None:
    """promtool on the rules as rendered for each use case with streamed views: files/prometheus-rules-stream-test.yaml
    (FeatureFreshnessSlow, StreamWorkerBehind, StreamWorkerDown, the recorded objective)."""
    promtool = tool("promtool")
    streaming = [name for name in chart_use_cases() if any(view.streamed for view in load_use_case(name).views)]
    assert streaming, "no use case streams: nothing renders the stream's rules"
    for name in streaming:
        (tmp_path / "prometheus-rules.yaml").write_text(rendered_rules(name))
        shutil.copy(CHART / "files" / "prometheus-rules-stream-test.yaml", tmp_path)
        checked = subprocess.run(
            [promtool, "check", "rules", "prometheus-rules.yaml"], cwd=tmp_path, capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        tested = subprocess.run(
            [promtool, "test", "rules", "prometheus-rules-stream-test.yaml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert tested.returncode == 0, name + tested.stdout + tested.stderr
        assert "SUCCESS" in tested.stdout, tested.stdout
