"""The chart's side of the data loop: the CronJobs that refresh features, measure realised quality and check
drift; the model servers on the state volume; and the NetworkPolicy paths those pods need."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.conftest import (
    VALUE_FILES,
    chart_values,
    endpoint_component,
    model_name,
    model_servers,
    render,
    streams,
)
from tests.cluster.rendered_objects import admits, pod_labels, pod_specs

pytestmark = pytest.mark.cluster
RELEASE = "driftloop"
# CronJob (after the release name, also its pods' component label) -> its values key and its command.
LOOP_JOBS = {
    "feature-refresh": ("featureRefresh", ["features", "refresh"]),
    "quality": ("quality", ["monitor", "quality"]),
    "drift": ("drift", ["monitor", "run", "--json"]),
}
# Who must reach whom: (source component, target component, port).
LOOP_PATHS = [
    ("feature-refresh", "redis", 6379),  # materialises the online store
    ("feature-refresh", "postgres", 5432),  # reads the Feast SQL registry
    ("feature-refresh", "pushgateway", 9091),
    ("quality", "pushgateway", 9091),
    ("drift", "postgres", 5432),
    ("drift", "pushgateway", 9091),
    ("prometheus", "pushgateway", 9091),  # the pushed gauges reach the rules and dashboards
    ("prometheus", "alertmanager", 9093),  # firing alerts are routed
]
# With a use case that streams (the stream's Redis and workers render).
STREAM_PATHS = [
    ("stream-worker", "stream-redis", 6379),  # reads the stream
    ("stream-worker", "redis", 6379),  # pushes the windows into the online store
    ("stream-worker", "postgres", 5432),  # reads the Feast SQL registry
    ("feast-apply", "stream-redis", 6379),  # the demo's landing of events publishes them
    ("prometheus", "stream-worker", 9109),  # backlog and freshness
]


def _workloads(rendered: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Workload objects by their pods' component label."""
    kinds = ("Deployment", "StatefulSet", "CronJob", "Job")
    return {pod_labels(obj)["app.kubernetes.io/component"]: obj for obj in rendered if obj["kind"] in kinds}


def _claims(pod: dict[str, Any]) -> dict[str, str]:
    """Volume name -> PersistentVolumeClaim name."""
    volumes = pod.get("volumes", [])
    return {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v}


def _port_names(obj: dict[str, Any]) -> dict[str, int]:
    return {
        port["name"]: port["containerPort"]
        for _, pod in pod_specs(obj)
        for container in pod["containers"]
        for port in container.get("ports", [])
        if "name" in port
    }


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_the_loop_cronjobs_run_their_command_one_at_a_time_on_the_schedule_from_values(values: str) -> None:
    rendered, settings = render(VALUE_FILES[values]), chart_values(VALUE_FILES[values])
    cronjobs = {obj["metadata"]["name"]: obj for obj in rendered if obj["kind"] == "CronJob"}
    assert set(cronjobs) == {f"{RELEASE}-{name}" for name in LOOP_JOBS}
    for name, (key, args) in LOOP_JOBS.items():
        cronjob = cronjobs[f"{RELEASE}-{name}"]
        spec, job = cronjob["spec"], cronjob["spec"]["jobTemplate"]["spec"]
        assert spec["schedule"] == settings[key]["schedule"], name
        assert spec["concurrencyPolicy"] == "Forbid", name
        # Forbid plus a wedged run would stop the job for good: every run has a deadline, every start too.
        assert spec["startingDeadlineSeconds"] > 0 and job["activeDeadlineSeconds"] > 0, name
        assert spec["successfulJobsHistoryLimit"] > 0 and spec["failedJobsHistoryLimit"] > 0, name
        assert pod_labels(cronjob)["app.kubernetes.io/component"] == name
        [container] = job["template"]["spec"]["containers"]
        assert container["args"] == args, name
        assert container["resources"] == settings[key]["resources"], name
        assert {"configMapRef": {"name": f"{RELEASE}-settings"}} in container["envFrom"], name


def test_every_driftloop_container_but_mlflow_and_the_database_roles_mounts_the_state_volume_at_the_state_dir(
    rendered: list[dict[str, Any]],
) -> None:
    """MLflow keeps its artifacts on a volume of its own; `driftloop database ...` (the roles' migration, MLflow's
    wait for its role) touches PostgreSQL only."""
    settings = next(o for o in rendered if o["kind"] == "ConfigMap" and o["metadata"]["name"] == f"{RELEASE}-settings")
    state_dir = settings["data"]["DRIFTLOOP_STATE_DIR"]
    checked = set()
    for obj in rendered:
        for where, pod in pod_specs(obj):
            claims = _claims(pod)
            for container in [*pod["containers"], *pod.get("initContainers", [])]:
                if not str(container["image"]).startswith("driftloop:"):
                    continue
                if container["args"][:2] == ["serve", "mlflow"] or container["args"][0] == "database":
                    continue
                mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
                assert claims.get(mounts.get(state_dir, "")) == f"{RELEASE}-state", (where, container["name"])
                assert "/tmp" in mounts, (where, "read-only root filesystem: /tmp needs its emptyDir")
                checked.add(where)
    # Each model server serves POST /v1/labels (the label store); the predictor writes the prediction log.
    assert {
        *(f"InferenceService/{model_name(rendered)}/{part}" for part in model_servers(rendered)),
        *(f"CronJob/{RELEASE}-{name}" for name in LOOP_JOBS),
    } <= checked
    if streams(rendered):
        assert f"StatefulSet/{RELEASE}-stream-worker" in checked, "the Feast repo it pushes through is on the volume"


def test_network_policies_admit_the_loop_jobs_to_the_stores_and_the_pushgateway(
    rendered: list[dict[str, Any]],
) -> None:
    policies = [obj for obj in rendered if obj["kind"] == "NetworkPolicy"]
    assert policies, "both value files keep the NetworkPolicies on"
    workloads = _workloads(rendered)
    for source, target, port in LOOP_PATHS + (STREAM_PATHS if streams(rendered) else []):
        source_labels, target_labels = pod_labels(workloads[source]), pod_labels(workloads[target])
        allowed = admits(policies, source_labels, target_labels, port, _port_names(workloads[target]))
        assert allowed, f"{source} -> {target}:{port} is denied"


def test_the_policy_check_catches_what_it_should(rendered: list[dict[str, Any]]) -> None:
    """The evaluator itself: outsiders and unlabelled pods are refused, a port rule is honoured."""
    policies = [obj for obj in rendered if obj["kind"] == "NetworkPolicy"]
    redis = pod_labels(_workloads(rendered)["redis"])
    assert not admits(policies, {"app": "ml-pipeline"}, redis, 6379), "KFP's own pods share the namespace"
    assert not admits(policies, {"app.kubernetes.io/component": "feature-refresh"}, redis, 6379)
    assert admits([], {"app": "ml-pipeline"}, redis, 6379), "no policy selects the pod: no isolation"
    inference = {"serving.kserve.io/inferenceservice": model_name(rendered), "component": endpoint_component(rendered)}
    assert admits(policies, {"app": "curl"}, inference, 8080)
    assert not admits(policies, {"app": "curl"}, inference, 9000)


def test_only_the_transformer_and_prometheus_reach_a_predictor_behind_it(rendered: list[dict[str, Any]]) -> None:
    """KServe gives the predictor's pods the InferenceService's labels (ours) plus its own
    (`serving.kserve.io/inferenceservice`, `component: predictor`; kserve predictor.go buildObjectMeta). In the
    in-process topology the predictor is the endpoint itself: any client, on the serving port only."""
    policies = [obj for obj in rendered if obj["kind"] == "NetworkPolicy"]
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    name = isvc["metadata"]["name"]
    predictor = {**isvc["metadata"]["labels"], "serving.kserve.io/inferenceservice": name, "component": "predictor"}
    transformer = {**predictor, "component": "transformer"}
    workloads = _workloads(rendered)
    if endpoint_component(rendered) == "predictor":
        for client in ({"app": "curl"}, pod_labels(workloads["prometheus"]), pod_labels(workloads["drift"])):
            assert admits(policies, client, predictor, 8080), client
            assert not admits(policies, client, predictor, 9000), client
        assert admits(policies, predictor, pod_labels(workloads["redis"]), 6379), "it reads the online store"
        assert admits(policies, predictor, pod_labels(workloads["postgres"]), 5432), "and the Feast registry"
        return
    assert admits(policies, transformer, predictor, 8080)
    assert admits(policies, pod_labels(workloads["prometheus"]), predictor, 8080), "its /metrics are scraped"
    assert not admits(policies, transformer, predictor, 9000)
    for outsider in ({"app": "curl"}, pod_labels(workloads["drift"]), pod_labels(workloads["evidently-ui"]), predictor):
        assert not admits(policies, outsider, predictor, 8080), outsider
    assert admits(policies, {"app": "curl"}, transformer, 8080), "the transformer is the inference endpoint"
    assert admits(policies, transformer, pod_labels(workloads["redis"]), 6379), "it still reads the online store"
