"""KubeRay's `ray.io/v1` RayCluster types, for the typed check of the rendered RayCluster (a labelled contract:
no KubeRay API server runs here). Field names, JSON names and required fields are read from
`ray-operator/apis/ray/v1/raycluster_types.go` at KubeRay v1.7.0, the operator `make up RAY=1` installs; nested
Kubernetes types (the pod templates, the head Service) are the `kubernetes` client's own models. Options we do not
set are `object` (free-form) here. `rayStartParams` is a map of strings: the CRD rejects a bare number.
"""

from __future__ import annotations

from typing import ClassVar


class _KubeRayModel:
    openapi_types: ClassVar[dict[str, str]]
    attribute_map: ClassVar[dict[str, str]]
    required_fields: ClassVar[set[str]] = set()


def _model(name: str, fields: dict[str, tuple[str, str]], required: set[str]) -> type[_KubeRayModel]:
    """A model like the generated ones: attribute -> (JSON name, type)."""
    return type(
        name,
        (_KubeRayModel,),
        {
            "openapi_types": {attr: kind for attr, (_, kind) in fields.items()},
            "attribute_map": {attr: json for attr, (json, _) in fields.items()},
            "required_fields": required,
        },
    )


_GROUP_COMMON = {
    "template": ("template", "V1PodTemplateSpec"),
    "resources": ("resources", "dict(str, str)"),
    "labels": ("labels", "dict(str, str)"),
    "ray_start_params": ("rayStartParams", "dict(str, str)"),
}

KUBERAY_MODELS = {
    "V1RayCluster": _model(
        "V1RayCluster",
        {
            "api_version": ("apiVersion", "str"),
            "kind": ("kind", "str"),
            "metadata": ("metadata", "V1ObjectMeta"),
            "spec": ("spec", "V1RayClusterSpec"),
        },
        set(),
    ),
    "V1RayClusterSpec": _model(
        "V1RayClusterSpec",
        {
            "upgrade_strategy": ("upgradeStrategy", "object"),
            "auth_options": ("authOptions", "object"),
            "suspend": ("suspend", "bool"),
            "managed_by": ("managedBy", "str"),
            "autoscaler_options": ("autoscalerOptions", "object"),
            "head_service_annotations": ("headServiceAnnotations", "dict(str, str)"),
            "enable_in_tree_autoscaling": ("enableInTreeAutoscaling", "bool"),
            "gcs_fault_tolerance_options": ("gcsFaultToleranceOptions", "object"),
            "history_server_options": ("historyServerOptions", "object"),
            "network_policy": ("networkPolicy", "object"),
            "tls_options": ("tlsOptions", "object"),
            "head_group_spec": ("headGroupSpec", "V1HeadGroupSpec"),
            "ray_version": ("rayVersion", "str"),
            "worker_group_specs": ("workerGroupSpecs", "list[V1WorkerGroupSpec]"),
        },
        {"head_group_spec"},
    ),
    "V1HeadGroupSpec": _model(
        "V1HeadGroupSpec",
        {
            **_GROUP_COMMON,
            "head_service": ("headService", "V1Service"),
            "enable_ingress": ("enableIngress", "bool"),
            "ingress_options": ("ingressOptions", "object"),
            "service_type": ("serviceType", "str"),
        },
        {"template", "ray_start_params"},
    ),
    "V1WorkerGroupSpec": _model(
        "V1WorkerGroupSpec",
        {
            **_GROUP_COMMON,
            "suspend": ("suspend", "bool"),
            "group_name": ("groupName", "str"),
            "replicas": ("replicas", "int"),
            "min_replicas": ("minReplicas", "int"),
            "max_replicas": ("maxReplicas", "int"),
            "idle_timeout_seconds": ("idleTimeoutSeconds", "int"),
            "priority": ("priority", "int"),
            "scale_strategy": ("scaleStrategy", "object"),
            "num_of_hosts": ("numOfHosts", "int"),
        },
        {"group_name", "min_replicas", "max_replicas", "ray_start_params", "template"},
    ),
}
