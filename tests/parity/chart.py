"""The chart as the kubelet would see it: every container of every workload, with its command, args and
environment exactly as rendered (ConfigMap and Secret references resolved from the rendered objects)."""

from __future__ import annotations

import base64
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.rendered_objects import pod_specs

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "driftloop"
PARITY_VALUES = CHART / "values-parity.yaml"
RELEASE = "driftloop"
# The downward API's view of a StatefulSet pod's ordinal (the label its controller sets, Kubernetes >= 1.28).
POD_INDEX_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']"


class ChartFinding(AssertionError):
    """Something in the rendered chart that would break a real cluster; the harness never works around it."""


@dataclass(frozen=True)
class Volume:
    """A pod volume: a claim (shared by every pod that mounts it), an emptyDir (the pod's own) or a ConfigMap."""

    name: str
    kind: str  # persistentVolumeClaim, emptyDir, configMap, secret
    source: str  # claim or ConfigMap name; the pod's name for an emptyDir
    files: dict[str, str] = field(default_factory=dict)  # a ConfigMap's keys


@dataclass(frozen=True)
class Container:
    """One container as rendered: where it runs (workload/pod part), what it runs and with what."""

    workload: str  # e.g. Deployment/driftloop-mlflow, InferenceService/fraud-detector/transformer
    name: str
    image: str
    command: list[str]
    args: list[str]
    env: dict[str, str]
    mounts: dict[str, Volume]  # mountPath -> volume
    ports: dict[str, int]  # port name -> containerPort
    readiness: dict[str, Any] | None
    liveness: dict[str, Any] | None
    init: bool = False
    run_as: tuple[int, int] | None = None  # securityContext runAsUser, runAsGroup (None: the image's USER)


@dataclass
class RenderedChart:
    objects: list[dict[str, Any]]

    def find(self, kind: str, name: str) -> dict[str, Any]:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        raise ChartFinding(f"the chart renders no {kind} {name!r}")

    def renders(self, kind: str, name: str) -> bool:
        return any(obj["kind"] == kind and obj["metadata"]["name"] == name for obj in self.objects)

    @property
    def inference_service(self) -> str:
        """The InferenceService's name (the chart renders one)."""
        (isvc,) = self.of_kind("InferenceService")
        return str(isvc["metadata"]["name"])

    @property
    def model_servers(self) -> list[str]:
        """The InferenceService's parts its serving.topology runs, in start order: the predictor, then the
        transformer in front of it (`transformer`); the last one is the inference endpoint and looks features up."""
        (isvc,) = self.of_kind("InferenceService")
        return [part for part in ("predictor", "transformer") if part in isvc["spec"]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def config_map(self, name: str) -> dict[str, str]:
        return dict(self.find("ConfigMap", name).get("data", {}))

    def secret(self, name: str) -> dict[str, str]:
        data = self.find("Secret", name).get("data", {})
        return {key: base64.b64decode(value).decode() for key, value in data.items()}

    def containers(self, workload_prefix: str = "") -> list[Container]:
        found = []
        for obj in self.objects:
            for where, pod in pod_specs(obj):
                if where.startswith(workload_prefix):
                    found += self._pod_containers(where, pod)
        return found

    def container(self, workload: str, name: str) -> Container:
        for candidate in self.containers(workload):
            if candidate.workload == workload and candidate.name == name:
                return candidate
        raise ChartFinding(f"no container {name!r} in {workload}")

    def _pod_containers(self, where: str, pod: dict[str, Any]) -> list[Container]:
        volumes = {volume["name"]: self._volume(where, volume) for volume in pod.get("volumes", [])}
        obj_kind, _, _ = where.partition("/")
        if obj_kind == "StatefulSet":
            name = where.split("/")[1]
            for template in self.find("StatefulSet", name)["spec"].get("volumeClaimTemplates", []):
                claim = template["metadata"]["name"]
                volumes[claim] = Volume(claim, "persistentVolumeClaim", f"{claim}-{name}-0")
        built = []
        for init, key in ((True, "initContainers"), (False, "containers")):
            for spec in pod.get(key, []):
                built.append(self._container(where, spec, volumes, init))
        return built

    def _volume(self, pod: str, volume: dict[str, Any]) -> Volume:
        if "persistentVolumeClaim" in volume:
            return Volume(volume["name"], "persistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
        if "emptyDir" in volume:
            return Volume(volume["name"], "emptyDir", pod)
        if "configMap" in volume:
            name = volume["configMap"]["name"]
            return Volume(volume["name"], "configMap", name, self.config_map(name))
        if "secret" in volume:  # files like a ConfigMap's: the harness reads them as the pod's user would
            name = volume["secret"]["secretName"]
            return Volume(volume["name"], "secret", name, self.secret(name))
        raise ChartFinding(f"{pod}: volume {volume['name']!r} of a kind the harness does not know: {volume}")

    def _container(self, where: str, spec: dict[str, Any], volumes: dict[str, Volume], init: bool) -> Container:
        env: dict[str, str] = {}
        for source in spec.get("envFrom", []):
            if "configMapRef" in source:
                env.update(self.config_map(source["configMapRef"]["name"]))
            elif "secretRef" in source:
                env.update(self.secret(source["secretRef"]["name"]))
        for variable in spec.get("env", []):
            env[variable["name"]] = self._env_value(where, variable)
        mounts = {}
        for mount in spec.get("volumeMounts", []):
            if mount["name"] not in volumes:
                raise ChartFinding(f"{where}/{spec['name']}: mounts volume {mount['name']!r}, which the pod lacks")
            volume = volumes[mount["name"]]
            if "subPath" in mount:
                volume = Volume(volume.name, volume.kind, volume.source, {"": volume.files[mount["subPath"]]})
            mounts[mount["mountPath"]] = volume
        return Container(
            workload=where,
            name=spec["name"],
            image=spec["image"],
            command=list(spec.get("command", [])),
            args=[str(arg) for arg in spec.get("args", [])],
            env=env,
            mounts=mounts,
            ports={
                port.get("name", str(port["containerPort"])): port["containerPort"] for port in spec.get("ports", [])
            },
            readiness=spec.get("readinessProbe"),
            liveness=spec.get("livenessProbe"),
            init=init,
            run_as=_run_as(spec.get("securityContext", {})),
        )

    def _env_value(self, where: str, variable: dict[str, Any]) -> str:
        if "value" in variable:
            return str(variable["value"])
        reference = variable.get("valueFrom", {})
        if "secretKeyRef" in reference:
            ref = reference["secretKeyRef"]
            values = self.secret(ref["name"])
        elif "configMapKeyRef" in reference:
            ref = reference["configMapKeyRef"]
            values = self.config_map(ref["name"])
        elif reference.get("fieldRef", {}).get("fieldPath") == POD_INDEX_FIELD:
            return "0"  # a StatefulSet's pod here is its first (its claims are `<claim>-<name>-0` too)
        else:
            raise ChartFinding(f"{where}: env {variable['name']} has a source the harness does not know: {reference}")
        if ref["key"] not in values:
            raise ChartFinding(f"{where}: env {variable['name']} refers to key {ref['key']!r} that {ref['name']} lacks")
        return values[ref["key"]]


def _run_as(context: dict[str, Any]) -> tuple[int, int] | None:
    if "runAsUser" not in context:
        return None
    return int(context["runAsUser"]), int(context.get("runAsGroup", context["runAsUser"]))


def render(helm: str, values: Path = PARITY_VALUES, *extra: str, chart: Path = CHART) -> RenderedChart:
    """`helm template` the chart as `make up` installs it (release name and namespace), with a values file."""
    from driftloop.cluster.upstream import PINS

    command = [helm, "template", RELEASE, str(chart), "--namespace", PINS.kfp_namespace, "-f", str(values), *extra]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return RenderedChart([doc for doc in yaml.safe_load_all(output) if doc])
