"""Reading rendered chart objects: their pod specs and containers, and whether the NetworkPolicies let one
pod reach another (the Kubernetes semantics for same-namespace pod selectors, nothing more)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def pod_specs(obj: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    kind, name = obj["kind"], obj["metadata"]["name"]
    spec = obj.get("spec", {})
    if kind in ("Deployment", "StatefulSet", "Job"):
        yield f"{kind}/{name}", spec["template"]["spec"]
    elif kind == "CronJob":
        yield f"{kind}/{name}", spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind == "RayCluster":
        yield f"{kind}/{name}/head", spec["headGroupSpec"]["template"]["spec"]
        for group in spec.get("workerGroupSpecs", []):
            yield f"{kind}/{name}/{group['groupName']}", group["template"]["spec"]
    elif kind == "InferenceService":
        for part in ("predictor", "transformer"):
            if part in spec:
                yield f"{kind}/{name}/{part}", spec[part]


def containers(rendered: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any], bool]]:
    for obj in rendered:
        for where, pod in pod_specs(obj):
            for container in pod.get("containers", []):
                yield f"{where}/{container['name']}", container, False
            for container in pod.get("initContainers", []):
                yield f"{where}/{container['name']}", container, True


def pod_labels(obj: dict[str, Any]) -> dict[str, str]:
    """The labels of the pods a workload object starts."""
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["metadata"]["labels"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A LabelSelector against a pod's labels (an empty selector selects every pod)."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def _port_matches(rule: dict[str, Any], port: int, port_names: dict[str, int]) -> bool:
    ports = rule.get("ports")
    if not ports:
        return True
    return any(entry.get("port") in (None, port) or port_names.get(str(entry.get("port"))) == port for entry in ports)


def admits(
    policies: list[dict[str, Any]],
    source: dict[str, str],
    target: dict[str, str],
    port: int,
    port_names: dict[str, int] | None = None,
) -> bool:
    """Whether a pod labelled `source` may open `port` on a pod labelled `target` in the same namespace.

    A pod no ingress policy selects takes any traffic; once selected, some rule of some selecting policy
    must admit the source (pod selectors without a namespace selector mean the policy's own namespace).
    """
    selecting = [
        spec
        for spec in (policy["spec"] for policy in policies)
        if selects(spec["podSelector"], target) and "Ingress" in spec.get("policyTypes", ["Ingress"])
    ]
    if not selecting:
        return True
    for spec in selecting:
        for rule in spec.get("ingress", []):
            if not _port_matches(rule, port, port_names or {}):
                continue
            peers = rule.get("from")
            if not peers:
                return True
            for peer in peers:
                if "podSelector" in peer and "namespaceSelector" not in peer and selects(peer["podSelector"], source):
                    return True
    return False
