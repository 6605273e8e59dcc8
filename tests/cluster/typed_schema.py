"""Validate rendered objects against the typed API models shipped in Python packages we already pin:
the `kubernetes` client's models (the Kubernetes API schema), `kserve`'s v1beta1 models (KServe's own
types for the InferenceService) and KubeRay's RayCluster fields (`kuberay_types.py`). Every field must be
known to its type, nested types are checked all the way down, scalars must have the declared type, and
fields the model marks as required must be present.

The network is not needed: the models are the OpenAPI schema, generated into code.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

import kubernetes.client as k8s

SCALARS = {"str": str, "int": int, "bool": bool, "float": (int, float)}
QUANTITY_FIELDS = {"cpu", "memory", "storage"}


def _model(name: str) -> Any:
    import kserve.models as kserve_models

    from tests.cluster.kuberay_types import KUBERAY_MODELS

    return getattr(kserve_models, name, None) or getattr(k8s, name, None) or KUBERAY_MODELS.get(name)


def _required(model: Any) -> set[str]:
    """Fields whose setter rejects None: the generated code's way of marking `required` (KubeRay's models list
    theirs)."""
    if hasattr(model, "required_fields"):
        return set(model.required_fields)
    required = set()
    for attr in model.openapi_types:
        source = (
            inspect.getsource(getattr(model, attr).fset) if isinstance(getattr(model, attr, None), property) else ""
        )
        if "must not be `None`" in source:
            required.add(attr)
    return required


def _check(value: Any, type_name: str, where: str, problems: list[str]) -> None:
    if value is None:
        return
    if type_name in SCALARS:
        if not isinstance(value, SCALARS[type_name]) or (type_name != "bool" and isinstance(value, bool)):
            problems.append(f"{where}: expected {type_name}, got {type(value).__name__} {value!r}")
        return
    if type_name == "object":
        return  # free-form (e.g. quantities, int-or-string)
    if match := re.fullmatch(r"list\[(.+)\]", type_name):
        if not isinstance(value, list):
            problems.append(f"{where}: expected a list")
            return
        for index, item in enumerate(value):
            _check(item, match.group(1), f"{where}[{index}]", problems)
        return
    if match := re.fullmatch(r"dict\(str, (.+)\)", type_name):
        if not isinstance(value, dict):
            problems.append(f"{where}: expected a mapping")
            return
        for key, item in value.items():
            _check(item, match.group(1), f"{where}.{key}", problems)
        return
    if type_name == "datetime":
        return
    model = _model(type_name)
    if model is None:
        problems.append(f"{where}: unknown type {type_name}")
        return
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object of {type_name}")
        return
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    for key, item in value.items():
        if key not in by_json:
            problems.append(f"{where}.{key}: not a field of {type_name}")
            continue
        _check(item, model.openapi_types[by_json[key]], f"{where}.{key}", problems)
    for attr in _required(model):
        if model.attribute_map[attr] not in value:
            problems.append(f"{where}: {type_name} requires {model.attribute_map[attr]}")


def model_name(obj: dict[str, Any]) -> str:
    group_version, kind = obj["apiVersion"], obj["kind"]
    version = group_version.split("/")[-1]
    return f"{version[0].upper()}{version[1:]}{kind}"


def validate_object(obj: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    _check(obj, model_name(obj), where, problems)
    return problems
