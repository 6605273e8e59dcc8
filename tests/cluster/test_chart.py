"""The chart renders, validates against the Kubernetes and KServe types, and follows our conventions."""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftloop.cluster.upstream import PINS
from pipelines.kfp.compile import COMPILED_PIPELINE
from tests.cluster.conftest import (
    CHART,
    REPO,
    VALUE_FILES,
    chart_use_cases,
    model_servers,
    release_settings,
    render,
    rendered_rules,
    tool,
)
from tests.cluster.rendered_objects import admits, containers, pod_specs
from tests.cluster.typed_schema import validate_object

pytestmark = pytest.mark.cluster
DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))
CUSTOM_KINDS = {"InferenceService", "RayCluster"}


@pytest.mark.parametrize("values", sorted(VALUE_FILES))
def test_helm_lint_passes(values: str) -> None:
    command = [tool("helm"), "lint", str(CHART), "--strict"]
    if VALUE_FILES[values]:
        command += ["-f", str(VALUE_FILES[values])]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _schema_problems(obj: dict[str, Any]) -> list[str]:
    """Problems against the strict Kubernetes JSON schema of the version kind-config.yaml pins."""
    import kubernetes_validate

    try:
        kubernetes_validate.validate(obj, f"{PINS.kubernetes_version}.0", strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{obj['kind']}/{obj['metadata']['name']}: {'.'.join(map(str, error.path))}: {error.message}"]
    return []


def test_every_object_validates_against_the_pinned_kubernetes_schema_and_kserve_types(
    rendered: list[dict[str, Any]],
) -> None:
    kinds = {obj["kind"] for obj in rendered}
    assert {"InferenceService", "CronJob", "Deployment", "StatefulSet", "NetworkPolicy", "Secret", "ConfigMap"} <= kinds
    builtin = [obj for obj in rendered if obj["kind"] not in CUSTOM_KINDS]
    assert [problem for obj in builtin for problem in _schema_problems(obj)] == []
    # KServe's and KubeRay's CRDs are not in the Kubernetes schema: their own types check them instead (KServe's
    # generated v1beta1 models; KubeRay's RayCluster fields, with the Kubernetes models for its pod templates).
    assert [problem for obj in rendered for problem in validate_object(obj)] == []


def test_the_schema_check_catches_what_it_should() -> None:
    """The strict schema check itself: a wrong type, an unknown field and a missing required field."""

    def deployment(container: dict[str, Any], replicas: Any = 1) -> dict[str, Any]:
        pod = {"spec": {"containers": [container]}}
        spec = {"replicas": replicas, "selector": {}, "template": pod}
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": spec}

    assert _schema_problems(deployment({"name": "c", "image": "i"})) == []
    assert "replicas" in _schema_problems(deployment({"name": "c", "image": "i"}, replicas="one"))[0]
    assert "cmd" in _schema_problems(deployment({"name": "c", "image": "i", "cmd": []}))[0]
    assert "'name' is a required property" in _schema_problems(deployment({"image": "i"}))[0]


def test_no_container_runs_as_root_and_every_one_has_probes_and_resources(rendered: list[dict[str, Any]]) -> None:
    for obj in rendered:
        for where, pod in pod_specs(obj):
            assert pod.get("securityContext", {}).get("runAsNonRoot") is True, where
            assert pod.get("automountServiceAccountToken") is False, where
    seen = 0
    for where, container, is_init in containers(rendered):
        seen += 1
        security = container.get("securityContext", {})
        assert security.get("runAsNonRoot") is True and security.get("runAsUser", 0) != 0, where
        assert security.get("allowPrivilegeEscalation") is False, where
        assert security.get("capabilities", {}).get("drop") == ["ALL"], where
        assert {"requests", "limits"} <= set(container.get("resources", {})), where
        if not is_init:  # init containers cannot have probes
            assert "readinessProbe" in container and "livenessProbe" in container, where
    assert seen >= 12


def test_no_literal_secret_anywhere(rendered: list[dict[str, Any]]) -> None:
    for where, container, _ in containers(rendered):
        for variable in container.get("env", []):
            if re.search(r"PASSWORD|SECRET|TOKEN", variable["name"]):
                assert "value" not in variable and "secretKeyRef" in variable["valueFrom"], (where, variable["name"])
            value = str(variable.get("value", ""))
            assert not re.search(r"://[^:/@]+:[^$@/][^@/]*@", value), (where, variable["name"], "literal credential")
    values = (CHART / "values.yaml").read_text().lower()
    assert "password:" not in values and "secret:" not in values
    first = [o for o in render(None) if o["kind"] == "Secret"]
    second = [o for o in render(None) if o["kind"] == "Secret"]
    assert first and all(a["data"] != b["data"] for a, b in zip(first, second, strict=True)), "generated per install"


def test_every_driftloop_command_in_the_chart_exists_with_its_arguments(rendered: list[dict[str, Any]]) -> None:
    commands = {
        tuple(container["args"])
        for _, container, _ in containers(rendered)
        if str(container.get("image", "")).startswith("driftloop:")
    }
    assert {("monitor", "run", "--json"), ("serve", "mlflow"), ("features", "apply")} <= commands
    for args in commands:
        words = [a for a in args if not a.startswith("--")]
        command_path = [w for w in words if not w.isdigit()]
        returncode, help_text = _help_of(tuple(command_path))
        assert returncode == 0, (args, help_text)
        for option in (a for a in args if a.startswith("--")):
            assert option in help_text, (args, option)


@functools.cache
def _help_of(command_path: tuple[str, ...]) -> tuple[int, str]:
    """`driftloop <command> --help`, once per command for all the value files (each run starts a process)."""
    result = subprocess.run([DRIFTLOOP, *command_path, "--help"], capture_output=True, text=True)
    return result.returncode, result.stdout if result.returncode == 0 else result.stderr


def test_resource_requests_fit_a_16_gib_laptop(rendered: list[dict[str, Any]]) -> None:
    def memory_mib(quantity: str) -> float:
        units = {"Mi": 1.0, "Gi": 1024.0}
        return float(quantity[:-2]) * units[quantity[-2:]]

    def cpu_millis(quantity: str | int | float) -> float:
        text = str(quantity)
        return float(text[:-1]) if text.endswith("m") else float(text) * 1000

    def effective(pod: dict[str, Any], measure: Any, resource: str) -> float:
        """What the scheduler reserves for a pod: its containers' sum, or its largest init container."""
        requests = [measure(c["resources"]["requests"][resource]) for c in pod.get("initContainers", [])]
        return max([sum(measure(c["resources"]["requests"][resource]) for c in pod["containers"]), *requests])

    def hook(obj: dict[str, Any]) -> bool:
        return "helm.sh/hook" in obj["metadata"].get("annotations", {})

    # Helm runs the hook Jobs one after the other: together they reserve what the largest does.
    pods = [(obj["kind"], pod) for obj in rendered if not hook(obj) for _, pod in pod_specs(obj)]
    hooks = [pod for obj in rendered if hook(obj) for _, pod in pod_specs(obj)]
    assert len(hooks) >= 2
    memory = sum(effective(pod, memory_mib, "memory") for kind, pod in pods if kind != "RayCluster")
    memory += max(effective(pod, memory_mib, "memory") for pod in hooks)
    cpu = sum(effective(pod, cpu_millis, "cpu") for kind, pod in pods if kind != "RayCluster")
    cpu += max(effective(pod, cpu_millis, "cpu") for pod in hooks)
    # Upstream on the same node (CLUSTER.md): KFP ~1 CPU / 3.5 GiB, KServe + cert-manager ~0.3 CPU / 0.6 GiB,
    # kind's control plane ~0.5 CPU / 1.5 GiB. All of it must leave headroom on a 16 GiB laptop.
    upstream_mib, upstream_millis = 5.6 * 1024, 1800
    # (4.9 GiB with the stream's Redis and one stream worker: 128 + 256 MiB.)
    assert memory < 5 * 1024, f"driftloop requests {memory:.0f} MiB"
    assert memory + upstream_mib < 12 * 1024 and cpu + upstream_millis < 6000, (memory, cpu)
    # The optional RayCluster (values.yaml states its figure) and the KubeRay operator's 100m / 512Mi: what
    # `make up RAY=1` asks Docker for beyond the default (PINS.ray_extra_docker_memory_gib).
    ray_memory = sum(effective(pod, memory_mib, "memory") for kind, pod in pods if kind == "RayCluster")
    ray_cpu = sum(effective(pod, cpu_millis, "cpu") for kind, pod in pods if kind == "RayCluster")
    assert ray_memory <= 2.25 * 1024 and ray_cpu <= 750, (ray_memory, ray_cpu)
    operator_mib, operator_millis = 512, 100
    assert memory + ray_memory + operator_mib + upstream_mib < (12 + PINS.ray_extra_docker_memory_gib) * 1024
    assert cpu + ray_cpu + operator_millis + upstream_millis < 6000


def _exported_metrics() -> dict[str, set[str]]:
    """Every metric our code defines at module level, name (without `_total`) -> its types: the modules of our
    packages that use prometheus_client, wherever a part keeps its metrics (the stream worker's included)."""
    import importlib

    from prometheus_client.metrics import MetricWrapperBase

    exported: dict[str, set[str]] = {}
    for folder in ("pipelines", "serving", "monitoring", "platform/driftloop"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if "prometheus_client" not in path.read_text():
                continue
            parts = path.relative_to(REPO / "platform" if folder.startswith("platform") else REPO).with_suffix("")
            module = importlib.import_module(".".join(parts.parts))
            for metric in vars(module).values():
                if isinstance(metric, MetricWrapperBase):
                    exported.setdefault(metric._name, set()).add(str(metric._type))
    return exported


def test_the_rules_and_dashboards_use_the_metrics_our_code_exports() -> None:
    exported = _exported_metrics()
    assert {"driftloop_inference_requests", "driftloop_drift_share"} <= set(exported), "the metric modules were found"
    rules = "\n".join(rendered_rules(use_case) for use_case in chart_use_cases())
    used = set(re.findall(r"driftloop_[a-z_]+", rules))
    used |= set(re.findall(r"driftloop_[a-z_]+", (CHART / "files" / "grafana-dashboard.json").read_text()))
    base = {re.sub(r"_(bucket|sum|count|total)$", "", name) for name in used}
    assert base <= set(exported), sorted(base - set(exported))
    # A quantile over buckets needs a histogram of that name (not only a gauge that shares it).
    buckets = {name.removesuffix("_bucket") for name in used if name.endswith("_bucket")}
    assert [name for name in sorted(buckets) if "histogram" not in exported[name]] == []


def test_the_compiled_pipeline_the_cluster_submits_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "training_pipeline.yaml"
    subprocess.run([DRIFTLOOP, "pipeline", "compile", "--out", str(out)], check=True, capture_output=True)
    committed = COMPILED_PIPELINE
    assert out.read_text() == committed.read_text(), "run `driftloop pipeline compile` and commit the result"


def test_the_type_validator_catches_what_it_should() -> None:
    """The validator itself: an unknown field, a wrong scalar type and a missing required field."""
    bad = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"replicas": "one", "selector": {}, "template": {"spec": {"containers": [{"image": "i", "cmd": []}]}}},
    }  # fmt: skip
    problems = "\n".join(validate_object(bad))
    assert "spec.replicas: expected int" in problems
    assert "containers[0].cmd: not a field of V1Container" in problems
    assert "V1Container requires name" in problems
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "m"},
            "spec": {"predictor": {"containerz": []}}}  # fmt: skip
    assert any("containerz: not a field of V1beta1PredictorSpec" in p for p in validate_object(isvc))


def test_training_tasks_get_the_release_volume_settings_and_secret(rendered: list[dict[str, Any]]) -> None:
    """The compiled pipeline and the chart agree: every KFP task mounts the release's state volume and reads
    the settings and secret keys the chart renders, and the NetworkPolicies let those pods reach the stores."""
    import base64

    import yaml

    from pipelines.kfp import cluster_wiring as wiring

    objects = {(obj["kind"], obj["metadata"]["name"]): obj for obj in rendered}
    settings = objects[("ConfigMap", wiring.SETTINGS_CONFIG_MAP)]["data"]
    assert set(wiring.SETTINGS_ENV) <= set(settings)
    assert settings["DRIFTLOOP_STATE_DIR"] == wiring.STATE_DIR
    secret = objects[("Secret", wiring.DATABASE_SECRET)]["data"]
    assert set(wiring.SECRET_ENV) <= set(secret)
    # The training pipeline materialises (its feature step): the registry's writer, never the superuser.
    registry_key = next(key for key, name in wiring.SECRET_ENV.items() if name == "DRIFTLOOP_FEAST_REGISTRY_URI")
    assert base64.b64decode(secret[registry_key]).decode().startswith("postgresql+psycopg://feast_writer:")
    assert ("PersistentVolumeClaim", wiring.STATE_VOLUME_CLAIM) in objects

    spec, platform = yaml.safe_load_all(COMPILED_PIPELINE.read_text())
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(spec["deploymentSpec"]["executors"])
    for name, config in executors.items():
        assert [m["constant"] for m in config["pvcMount"]] == [wiring.STATE_VOLUME_CLAIM], name
        assert config["pvcMount"][0]["mountPath"] == wiring.STATE_DIR, name
        assert {e["configMapKey"] for e in config["configMapAsEnv"][0]["keyToEnv"]} == set(wiring.SETTINGS_ENV)
        optional = config["configMapAsEnv"][1]
        assert {e["configMapKey"] for e in optional["keyToEnv"]} == set(wiring.OPTIONAL_SETTINGS_ENV)
        assert optional["optional"] is True, "a release without the RayCluster has no Ray address"
        assert config["secretAsEnv"][0]["secretName"] == wiring.DATABASE_SECRET, name
        secrets = {entry["secretName"]: entry for entry in config["secretAsEnv"]}
        login = {e["secretKey"]: e["envVar"] for e in secrets[wiring.MLFLOW_USERS_SECRET]["keyToEnv"]}
        assert login == {wiring.MLFLOW_USER.password_file: "MLFLOW_TRACKING_PASSWORD"}, name
        username = {e["name"]: e["value"] for e in spec["deploymentSpec"]["executors"][name]["container"]["env"]}
        assert username["MLFLOW_TRACKING_USERNAME"] == wiring.MLFLOW_USER.value, name
        store_secret = secrets[
            wiring.OBJECT_STORE_SECRET
        ]  # only read when the release keeps its data on the object store
        assert store_secret["secretName"] == wiring.OBJECT_STORE_SECRET and store_secret["optional"] is True, name
        assert {e["secretKey"]: e["envVar"] for e in store_secret["keyToEnv"]} == wiring.OBJECT_STORE_SECRET_ENV
        assert config["podMetadata"]["labels"] == wiring.POD_LABELS, name
        context = config["securityContext"]  # int64 fields arrive as JSON strings
        assert int(context["runAsUser"]) == int(context["runAsGroup"]) == wiring.IMAGE_UID, name
        assert context["runAsNonRoot"] is True, name

    default_policy = objects[("NetworkPolicy", "driftloop-default-deny")]["spec"]
    admitted = [peer["podSelector"]["matchLabels"] for peer in default_policy["ingress"][0]["from"]]
    assert wiring.POD_LABELS in admitted
    assert default_policy["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "driftloop"}, (
        "the release shares KFP's namespace: our policies must select only our pods"
    )


def test_kind_config_runs_the_pinned_node_image_and_maps_every_node_port() -> None:
    import yaml

    kind_config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    node = kind_config["nodes"][0]
    assert node["image"] == PINS.kind_node_image and "@sha256:" in node["image"]
    assert f"v{PINS.kubernetes_version}." in node["image"]
    mapped = {m["containerPort"] for m in node["extraPortMappings"]}
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert set(values["nodePorts"].values()) <= mapped


def _pod_annotation(objects: list[dict[str, Any]], deployment: str, key: str) -> str:
    found = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == deployment)
    return str(found["spec"]["template"]["metadata"].get("annotations", {}).get(key, ""))


def test_prometheus_and_grafana_restart_when_their_configuration_changes() -> None:
    """Both read their configuration only at start: the pod template carries a checksum of what it is made of."""
    before = render(None)
    slower = render(None, "--set", "prometheus.scrapeInterval=45s")
    more_workers = render(None, "--set", "stream.workers=2")
    for deployment in ("driftloop-prometheus", "driftloop-grafana"):
        assert _pod_annotation(before, deployment, "checksum/config"), f"{deployment} has no config checksum"
    checksum = _pod_annotation(before, "driftloop-prometheus", "checksum/config")
    assert checksum != _pod_annotation(slower, "driftloop-prometheus", "checksum/config"), (
        "a scrape setting change must roll Prometheus"
    )
    assert checksum != _pod_annotation(more_workers, "driftloop-prometheus", "checksum/config"), (
        "a new stream worker is a new scrape target"
    )


def test_the_request_rate_panel_counts_each_request_once() -> None:
    """Behind the transformer the predictor counts the same requests again: the panel leaves it out."""
    dashboard = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    rate = next(p for p in dashboard["panels"] if "driftloop_inference_requests_total" in json.dumps(p))
    assert 'server!="predictor"' in rate["targets"][0]["expr"]


def _serving(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str], list[dict[str, Any]], str]:
    """(the InferenceService, the inference Service's selector, the NetworkPolicies, Prometheus's config)."""
    (isvc,) = [obj for obj in objects if obj["kind"] == "InferenceService"]
    (service,) = [o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "driftloop-inference"]
    policies = [obj for obj in objects if obj["kind"] == "NetworkPolicy"]
    (prometheus,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "driftloop-prometheus"]
    return isvc, service["spec"]["selector"], policies, prometheus["data"]["prometheus.yml"]


def test_the_default_topology_serves_features_and_model_in_one_predictor() -> None:
    """`serving.topology: inprocess`, the default: the predictor looks the online features up itself (the Feast
    registry as its reader, as the transformer would) and is the inference endpoint: the NodePort Service selects
    it, any client reaches it on the serving port only, Prometheus scrapes it; no transformer, nor its scrape job
    or the policy that kept everyone but the transformer away from the predictor."""
    objects = render(None)
    isvc, selector, policies, prometheus = _serving(objects)
    assert release_settings(objects)["DRIFTLOOP_SERVING_TOPOLOGY"] == "inprocess"
    assert model_servers(objects) == ["predictor"]
    (container,) = isvc["spec"]["predictor"]["containers"]
    assert container["args"] == ["serve", "predictor", "--with-features", "--port", "8080"]
    registry = {v["name"]: v for v in container["env"]}["DRIFTLOOP_FEAST_REGISTRY_URI"]["valueFrom"]["secretKeyRef"]
    assert registry["key"] == "feast-registry-reader-uri"
    name = isvc["metadata"]["name"]
    assert selector == {"serving.kserve.io/inferenceservice": name, "component": "predictor"}
    predictor = {**isvc["metadata"]["labels"], **selector}
    assert admits(policies, {"app": "curl"}, predictor, 8080), "the predictor is the inference endpoint"
    assert not admits(policies, {"app": "curl"}, predictor, 9000)
    assert "driftloop-allow-predictor" not in {policy["metadata"]["name"] for policy in policies}
    assert f"{name}-predictor:80" in prometheus and f"{name}-transformer:80" not in prometheus


def test_the_transformer_topology_puts_kserves_transformer_in_front_of_a_predictor_given_features() -> None:
    objects = render(VALUE_FILES["transformer"])
    isvc, selector, policies, prometheus = _serving(objects)
    assert model_servers(objects) == ["predictor", "transformer"]
    (predictor,) = isvc["spec"]["predictor"]["containers"]
    (transformer,) = isvc["spec"]["transformer"]["containers"]
    assert predictor["args"] == ["serve", "predictor", "--port", "8080"]
    assert transformer["args"] == ["serve", "transformer", "--port", "8080"]
    assert "DRIFTLOOP_FEAST_REGISTRY_URI" not in {v["name"] for v in predictor["env"]}, "it looks nothing up"
    name = isvc["metadata"]["name"]
    assert selector == {"serving.kserve.io/inferenceservice": name, "component": "transformer"}
    assert f"{name}-predictor:80" in prometheus and f"{name}-transformer:80" in prometheus


def test_the_inference_service_asks_kserve_for_no_autoscaler(rendered: list[dict[str, Any]]) -> None:
    """kind runs no metrics-server: KServe's default HPA (Standard mode) could never read CPU. `none` is the
    autoscaler class KServe's controller knows for "no HPA, replicas = minReplicas" (constants.AutoscalerClassNone)."""
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/autoscalerClass"] == "none"
    for part in model_servers(rendered):
        assert isvc["spec"][part]["minReplicas"] == isvc["spec"][part]["maxReplicas"] == 1


def test_redis_asks_for_a_password_every_driftloop_container_reads_from_the_secret(
    rendered: list[dict[str, Any]],
) -> None:
    import base64

    from pipelines.kfp import cluster_wiring as wiring

    (secret,) = [o for o in rendered if o["kind"] == "Secret" and o["metadata"]["name"] == wiring.DATABASE_SECRET]
    assert len(base64.b64decode(secret["data"]["redis-password"])) >= 32
    for where, container, _ in containers(rendered):
        references = {
            variable["name"]: variable.get("valueFrom", {}).get("secretKeyRef", {})
            for variable in container.get("env", [])
        }
        if container["image"].startswith("redis"):
            # The online store's and the stream's Redis: one password each (stream-redis.yaml).
            key = "stream-password" if where.startswith("StatefulSet/driftloop-stream-redis/") else "redis-password"
            assert "--requirepass" in container["args"] and "$(REDIS_PASSWORD)" in container["args"], where
            assert references["REDIS_PASSWORD"] == references["REDISCLI_AUTH"] == {
                "name": wiring.DATABASE_SECRET, "key": key}  # fmt: skip
        elif str(container["image"]).startswith("driftloop:") and container["args"][0] != "database":
            # (`driftloop database ...`, the roles' migration and MLflow's wait for its role, talk to PostgreSQL only)
            assert references.get("DRIFTLOOP_FEAST_REDIS_PASSWORD") == {
                "name": wiring.DATABASE_SECRET, "key": "redis-password"}, where  # fmt: skip
    assert wiring.SECRET_ENV["redis-password"] == "DRIFTLOOP_FEAST_REDIS_PASSWORD", "the training tasks get it too"


def test_both_model_servers_read_the_api_tokens_from_their_own_secret(rendered: list[dict[str, Any]]) -> None:
    """Every write route needs a token (serving/request_guard.py): the chart generates one per scope, keeps them
    on upgrade, and mounts them read-only where DRIFTLOOP_CREDENTIALS_DIR points, in every InferenceService
    container (the transformer calls the predictor with the score token). The demo reads the same Secret."""
    import base64

    from driftloop.cluster.pod_commands import API_TOKENS_SECRET
    from pipelines.core.credentials import Scope

    (secret,) = [o for o in rendered if o["kind"] == "Secret" and o["metadata"]["name"] == API_TOKENS_SECRET]
    tokens = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert set(tokens) == {scope.value for scope in Scope} and len(set(tokens.values())) == 3
    assert all(len(token) >= 32 for token in tokens.values())
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    for part in model_servers(rendered):
        pod = isvc["spec"][part]
        (container,) = pod["containers"]
        env = {variable["name"]: variable.get("value") for variable in container["env"]}
        mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        mount = mounts["api-tokens"]
        assert mount["readOnly"] and env["DRIFTLOOP_CREDENTIALS_DIR"] == mount["mountPath"], part
        assert volumes["api-tokens"]["secret"]["secretName"] == API_TOKENS_SECRET
        assert volumes["api-tokens"]["secret"]["defaultMode"] == 0o440, "readable by the pod's group only"


def test_the_evidently_ui_reads_its_write_secret_from_the_api_tokens(rendered: list[dict[str, Any]]) -> None:
    """`driftloop serve evidently-ui` hands Evidently the admin token as its write secret: the pod mounts it."""
    from driftloop.cluster.pod_commands import API_TOKENS_SECRET

    (deployment,) = [
        o for o in rendered if o["kind"] == "Deployment" and o["metadata"]["name"] == "driftloop-evidently"
    ]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["api-tokens"]["readOnly"] and env["DRIFTLOOP_CREDENTIALS_DIR"] == mounts["api-tokens"]["mountPath"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["api-tokens"]["secret"]["secretName"] == API_TOKENS_SECRET


def test_the_ray_profile_points_the_engine_at_its_cluster_and_lets_the_drivers_in() -> None:
    """With `ray.enabled` the settings name the `ray` engine and the RayCluster's head service on its Ray Client
    port, the KFP tasks and the refresh CronJob (the drivers) may reach that port, the image's Ray is the version
    the RayCluster declares, and without it nothing of Ray renders and the engine is pandas."""
    from pipelines.kfp import cluster_wiring as wiring
    from tests.cluster.rendered_objects import admits, pod_labels

    rendered = render(VALUE_FILES["ray"])
    objects = {(obj["kind"], obj["metadata"]["name"]): obj for obj in rendered}
    cluster = objects[("RayCluster", "driftloop-ray")]
    settings = objects[("ConfigMap", wiring.SETTINGS_CONFIG_MAP)]["data"]
    assert settings["DRIFTLOOP_FEATURE_ENGINE"] == "ray"
    # KubeRay names the head service `<RayCluster>-head-svc`; its ports are the head container's named ports.
    head = cluster["spec"]["headGroupSpec"]["template"]
    ports = {port["name"]: port["containerPort"] for port in head["spec"]["containers"][0]["ports"]}
    expected = f"ray://driftloop-ray-head-svc.{PINS.kfp_namespace}.svc.cluster.local:{ports['client']}"
    assert settings["DRIFTLOOP_RAY_ADDRESS"] == expected
    assert cluster["metadata"]["annotations"]["ray.io/overwrite-container-cmd"] == "true", "else KubeRay runs its own"
    for _, pod in pod_specs(cluster):
        assert pod["containers"][0]["args"] == ["serve", "ray", "--kuberay"]
        assert {"name": "shm", "mountPath": "/dev/shm"} in pod["containers"][0]["volumeMounts"]
    lock = (REPO / "requirements-runtime.lock").read_text()
    assert f"ray=={cluster['spec']['rayVersion']}\n" in lock, "KubeRay must be told the image's Ray version"

    policies = [obj for obj in rendered if obj["kind"] == "NetworkPolicy"]
    refresh = pod_labels(objects[("CronJob", "driftloop-feature-refresh")])
    for driver in (wiring.POD_LABELS, refresh):
        assert admits(policies, driver, head["metadata"]["labels"], ports["client"]), driver
    assert not admits(policies, {"app": "ml-pipeline"}, head["metadata"]["labels"], ports["client"])

    # The typed check reads KubeRay's types: a bare number in rayStartParams, an unknown or a missing field fail.
    broken = json.loads(json.dumps(cluster))
    broken["spec"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 1
    broken["spec"]["workerGroupSpecs"][0]["replica"] = 1
    del broken["spec"]["workerGroupSpecs"][0]["minReplicas"]
    problems = " | ".join(validate_object(broken))
    for expected_problem in ("num-cpus: expected str", "replica: not a field", "requires minReplicas"):
        assert expected_problem in problems, problems

    plain = render(None)
    assert not [obj for obj in plain if obj["kind"] == "RayCluster"]
    plain_settings = next(obj["data"] for obj in plain if obj["metadata"]["name"] == wiring.SETTINGS_CONFIG_MAP)
    assert plain_settings["DRIFTLOOP_FEATURE_ENGINE"] == "pandas" and "DRIFTLOOP_RAY_ADDRESS" not in plain_settings


def _env_names(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def test_the_object_store_profile_moves_the_data_off_the_state_volume() -> None:
    """With `objectStore.enabled` the settings name the S3 prefix and endpoint (KFP's SeaweedFS), every driftloop
    container (and so the KFP tasks, which read the same Secret: cluster_wiring) gets the credentials from KFP's
    Secret, the Ray pods no longer mount the RWO state volume (so they can run on any node), and the model server
    publishes its log less often; without it none of that renders."""
    from pipelines.kfp import cluster_wiring as wiring

    rendered = render(VALUE_FILES["object-store"], "--set", "ray.enabled=true")
    objects = {(obj["kind"], obj["metadata"]["name"]): obj for obj in rendered}
    settings = objects[("ConfigMap", wiring.SETTINGS_CONFIG_MAP)]["data"]
    assert settings["DRIFTLOOP_OBJECT_STORE_URL"] == "s3://mlpipeline/driftloop"
    assert (
        settings["DRIFTLOOP_OBJECT_STORE_ENDPOINT"] == f"http://seaweedfs.{PINS.kfp_namespace}.svc.cluster.local:9000"
    )
    assert set(wiring.OPTIONAL_SETTINGS_ENV) <= set(settings)
    # (`driftloop database ...` talks to PostgreSQL only)
    ours = [
        (where, c)
        for where, c, _ in containers(rendered)
        if c["image"].startswith("driftloop:") and c["args"][0] != "database"
    ]
    assert len(ours) >= 8, [where for where, _ in ours]
    for where, container in ours:
        env = _env_names(container)
        for key, name in wiring.OBJECT_STORE_SECRET_ENV.items():
            assert env[name]["valueFrom"]["secretKeyRef"] == {"name": wiring.OBJECT_STORE_SECRET, "key": key}, where
        for name, value in wiring.OBJECT_STORE_ENV.items():
            assert env[name]["value"] == value, where
    cluster = objects[("RayCluster", "driftloop-ray")]
    for where, pod in pod_specs(cluster):
        claims = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert claims == [], f"{where} pins Ray to the state volume's node"
    predictor = objects[("InferenceService", "fraud-detector")]["spec"]["predictor"]["containers"][0]
    assert float(_env_names(predictor)["DRIFTLOOP_PREDICTION_LOG_FLUSH_S"]["value"]) >= 10

    plain = render(None)
    plain_settings = next(obj["data"] for obj in plain if obj["metadata"]["name"] == wiring.SETTINGS_CONFIG_MAP)
    assert not {"DRIFTLOOP_OBJECT_STORE_URL", "DRIFTLOOP_OBJECT_STORE_ENDPOINT"} & set(plain_settings)
    assert not [where for where, c, _ in containers(plain) if "AWS_ACCESS_KEY_ID" in _env_names(c)]


def test_mlflow_runs_its_auth_app_with_one_user_per_component(rendered: list[dict[str, Any]], tmp_path: Path) -> None:
    """MLflow's basic-auth app with generated passwords: only the MLflow pod holds them all (it creates the
    users at start); every other MLflow client gets its own user's password from the Secret, never a literal:
    the predictor reads as driftloop-serving, the drift job as driftloop-monitor, the training tasks write as
    driftloop-pipeline (test_training_tasks_get_the_release_volume_settings_and_secret)."""
    import base64

    from driftloop.upstream_servers import mlflow_server_command
    from pipelines.core.settings import Settings
    from pipelines.registry.users import CLUSTER_SECRET, SECRET_FILES, MlflowUser

    command = mlflow_server_command(Settings(state_dir=tmp_path))
    assert command[command.index("--app-name") + 1] == "basic-auth"
    (secret,) = [o for o in rendered if o["kind"] == "Secret" and o["metadata"]["name"] == CLUSTER_SECRET]
    passwords = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert set(passwords) == set(SECRET_FILES) and len(set(passwords.values())) == len(SECRET_FILES)
    assert all(len(password) >= 32 for password in passwords.values())
    assert secret["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"

    logins: dict[str, str] = {}
    pods = [(where, pod) for obj in rendered for where, pod in pod_specs(obj)]
    for where, pod, container in ((w, p, c) for w, p in pods for c in p["containers"] + p.get("initContainers", [])):
        env = {variable["name"]: variable for variable in container.get("env", [])}
        mounted = {v["name"] for v in pod.get("volumes", []) if v.get("secret", {}).get("secretName") == CLUSTER_SECRET}
        if container.get("args", [])[:2] == ["serve", "mlflow"]:
            (mount,) = [m for m in container["volumeMounts"] if m["name"] in mounted]
            assert mount["readOnly"] and env["DRIFTLOOP_CREDENTIALS_DIR"]["value"] == mount["mountPath"]
            continue
        mounts = {mount["name"] for mount in container.get("volumeMounts", [])}
        assert not mounted & mounts, (where, "only the MLflow server mounts every MLflow password")
        if "MLFLOW_TRACKING_USERNAME" in env:
            user = MlflowUser(env["MLFLOW_TRACKING_USERNAME"]["value"])
            assert user is not MlflowUser.ADMIN, where
            reference = env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]
            assert reference == {"name": CLUSTER_SECRET, "key": user.password_file}, where
            logins[where] = user.value
    assert sorted(set(logins.values())) == [MlflowUser.MONITOR.value, MlflowUser.SERVING.value], logins


def test_the_model_servers_are_ready_only_when_they_can_answer_and_record(rendered: list[dict[str, Any]]) -> None:
    """Readiness is the model's own (`/v2/models/<name>/ready`: a champion, a prediction log that takes rows, an
    online store that answers: serving/predictor.py and transformer.py `healthy`); liveness stays cheap."""
    (isvc,) = [obj for obj in rendered if obj["kind"] == "InferenceService"]
    name = isvc["metadata"]["name"]
    for part in model_servers(rendered):
        (container,) = isvc["spec"][part]["containers"]
        assert container["readinessProbe"]["httpGet"]["path"] == f"/v2/models/{name}/ready", part
        assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live", part


def test_a_canary_gives_the_drift_job_the_pipeline_login_for_its_moves_and_only_then(tmp_path: Path) -> None:
    """With `drift.canary.share` set, the drift job (whose own login only reads) holds the pipeline login's
    password for the canary's moves (monitoring/canary_check.py); without one, no job but the training tasks
    holds it, and no model server ever does."""
    from pipelines.registry.users import CLUSTER_SECRET, MlflowUser

    def holders(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
        found = {}
        for obj in objects:
            for where, pod in pod_specs(obj):
                for container in pod["containers"]:
                    env = _env_names(container)
                    if "DRIFTLOOP_CANARY_MLFLOW_PASSWORD" in env:
                        found[where] = env["DRIFTLOOP_CANARY_MLFLOW_PASSWORD"]["valueFrom"]["secretKeyRef"]
        return found

    def settings(objects: list[dict[str, Any]]) -> dict[str, str]:
        (config,) = [o for o in objects if o["kind"] == "ConfigMap" and "DRIFTLOOP_CANARY_SHARE" in o.get("data", {})]
        return config["data"]

    default = render(None)
    assert holders(default) == {} and float(settings(default)["DRIFTLOOP_CANARY_SHARE"]) == 0.0
    values = tmp_path / "canary.yaml"
    values.write_text("drift:\n  canary:\n    share: 0.2\n    minRows: 300\n")
    canary = render(values)
    assert (
        settings(canary)["DRIFTLOOP_CANARY_SHARE"] == "0.2" and settings(canary)["DRIFTLOOP_CANARY_MIN_ROWS"] == "300"
    )
    found = holders(canary)
    assert list(found.values()) == [{"name": CLUSTER_SECRET, "key": MlflowUser.PIPELINE.password_file}], found
    assert all("drift" in where for where in found), found
