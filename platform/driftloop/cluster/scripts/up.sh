#!/usr/bin/env bash
# `make up`: a kind cluster with cert-manager, KServe (Standard mode), Kubeflow Pipelines and driftloop.
# Idempotent: every step checks what is there first; every wait names what it waits for, with a timeout.
# `up.sh --check` only checks the prerequisites (CPU, Docker and its memory, kind, inotify limits, free host
# ports); `--kind-config FILE` uses another cluster config than kind-config.yaml; `--ray` (`make up RAY=1`) adds
# the KubeRay operator and the chart's RayCluster, and runs the features and training sets on it;
# `--object-store` (`make up OBJECT_STORE=1`) keeps the event store, prediction log and offline tables on KFP's
# SeaweedFS (S3 API), which Ray pods on any node can read; `--use-case NAME` (`make up USE_CASE=delivery`) runs
# that use case instead of the chart's default (fraud).
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=.venv/bin
eval "$($BIN/python -m driftloop.cluster.upstream)"
DRIFTLOOP_VERSION=$($BIN/python -c 'import driftloop; print(driftloop.__version__)')
CLUSTER=driftloop
NAMESPACE=$KFP_NAMESPACE  # beside KFP: its task pods mount our state volume and read our settings
KUBECTL="$BIN/kubectl --context kind-$CLUSTER"
HELM="$BIN/helm --kube-context kind-$CLUSTER"

CHECK_ONLY=""
KIND_CONFIG=kind-config.yaml
RAY=""
OBJECT_STORE=""
USE_CASE=""
while (($#)); do
  case $1 in
    --check) CHECK_ONLY=1 ;;
    --kind-config) KIND_CONFIG=$2; shift ;;
    --ray) RAY=1 ;;
    --object-store) OBJECT_STORE=1 ;;
    --use-case) USE_CASE=$2; shift ;;
    *) echo "usage: up.sh [--check] [--kind-config FILE] [--ray] [--object-store] [--use-case NAME]" >&2; exit 2 ;;
  esac
  shift
done
# The RayCluster (2.25 GiB requested) and its operator need more of Docker's memory than the default install.
NEEDED_DOCKER_GIB=$MIN_DOCKER_MEMORY_GIB
[[ $RAY ]] && NEEDED_DOCKER_GIB=$((MIN_DOCKER_MEMORY_GIB + RAY_EXTRA_DOCKER_MEMORY_GIB))

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
wait_for() {  # wait_for <what> <timeout> <kubectl wait args...>
  local what=$1 timeout=$2; shift 2
  echo "    waiting up to $timeout for $what"
  $KUBECTL wait "$@" --timeout="$timeout" >/dev/null || fail "timed out after $timeout waiting for $what"
}

step "checking prerequisites"
if [[ $USE_CASE ]]; then  # the chart's schema says which it runs; refused now, not after the cluster is built
  accepted=$($BIN/python - helm/driftloop/values.schema.json <<'PY'
import json, sys
print(" ".join(json.load(open(sys.argv[1]))["properties"]["useCase"]["enum"]))
PY
)
  [[ " $accepted " == *" $USE_CASE "* ]] || fail "the chart runs no use case '$USE_CASE': choose one of ${accepted} (USE_CASE=...)"
fi
# What can only fail later (and then half-way through) is refused here, before anything is created.
case "$(uname -m)" in
  arm64 | aarch64)
    fail "cluster mode needs an x86-64 host: Kubeflow Pipelines ${KFP_VERSION}'s metadata server ships amd64 images only (kubeflow/pipelines#10308). Local mode (make demo) runs on arm64." ;;
esac
command -v docker >/dev/null || fail "docker is not installed (https://docs.docker.com/get-docker/)"
docker info >/dev/null 2>&1 || fail "docker is installed but not running: start Docker Desktop or the docker service"
command -v kind >/dev/null || fail "kind is not installed: go install sigs.k8s.io/kind@${KIND_VERSION} (or brew install kind)"
docker_gib=$(( $(docker info --format '{{.MemTotal}}') / 1024 / 1024 / 1024 ))
((docker_gib >= NEEDED_DOCKER_GIB)) || fail "Docker can use ${docker_gib} GiB of memory; cluster mode needs ${NEEDED_DOCKER_GIB} GiB${RAY:+ with Ray} (Docker Desktop: Settings > Resources > Memory)"
if [[ $(uname -s) == Linux ]]; then
  instances=$(sysctl -n fs.inotify.max_user_instances 2>/dev/null || echo 0)
  watches=$(sysctl -n fs.inotify.max_user_watches 2>/dev/null || echo 0)
  if ((instances < MIN_INOTIFY_INSTANCES || watches < MIN_INOTIFY_WATCHES)); then
    fail "inotify limits too low for a kind cluster (instances ${instances} < ${MIN_INOTIFY_INSTANCES} or watches ${watches} < ${MIN_INOTIFY_WATCHES}): sudo sysctl fs.inotify.max_user_instances=${MIN_INOTIFY_INSTANCES} fs.inotify.max_user_watches=${MIN_INOTIFY_WATCHES}"
  fi
fi
if ! kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then  # a new cluster needs its host ports free
  busy=$($BIN/python - "$KIND_CONFIG" <<'PY'
import socket, sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
for mapping in config["nodes"][0]["extraPortMappings"]:
    with socket.socket() as sock:
        try:
            sock.bind((mapping.get("listenAddress", "127.0.0.1"), mapping["hostPort"]))
        except OSError:
            print(mapping["hostPort"])
PY
)
  if [[ -n $busy ]]; then
    hint=""
    [[ $(uname -s) == Darwin && $busy == *5000* ]] && hint=" (on macOS, port 5000 is AirPlay Receiver: System Settings > General > AirDrop & Handoff)"
    fail "host ports in use, needed by $KIND_CONFIG: $(echo $busy)${hint}; free them or change hostPort there"
  fi
fi
[[ $CHECK_ONLY ]] && { echo "    prerequisites met"; exit 0; }
bash platform/driftloop/cluster/scripts/install-tools.sh

step "kind cluster '$CLUSTER' ($KIND_NODE_IMAGE)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "    already exists"
else
  kind create cluster --name "$CLUSTER" --config "$KIND_CONFIG" --wait 120s
fi

step "cert-manager $CERT_MANAGER_VERSION"
$KUBECTL apply -f "$CERT_MANAGER_MANIFEST" >/dev/null
wait_for "cert-manager webhooks" 300s -n cert-manager --for=condition=Available deployment --all
# Available is not enough: the webhook's CA may not be injected yet, and KServe's chart then fails on a
# fresh cluster. Wait until the API admits an Issuer (a server-side dry run), as KServe's own setup does.
echo "    waiting up to 120s for the cert-manager API"
for attempt in $(seq 1 24); do
  $KUBECTL apply --dry-run=server -f - >/dev/null 2>&1 <<'ISSUER' && break
apiVersion: cert-manager.io/v1
kind: Issuer
metadata: {name: driftloop-api-check, namespace: cert-manager}
spec: {selfSigned: {}}
ISSUER
  ((attempt == 24)) && fail "timed out after 120s waiting for the cert-manager API to admit resources"
  sleep 5
done

step "KServe $KSERVE_VERSION ($KSERVE_DEPLOYMENT_MODE mode)"
$HELM upgrade --install kserve-crd "$KSERVE_CHART_REPO/kserve-crd" --version "$KSERVE_VERSION" \
  -n kserve --create-namespace --wait
$HELM upgrade --install kserve-resources "$KSERVE_CHART_REPO/kserve-resources" --version "$KSERVE_VERSION" \
  -n kserve --set kserve.version="$KSERVE_VERSION" \
  --set kserve.controller.deploymentMode="$KSERVE_DEPLOYMENT_MODE" --wait
$HELM upgrade --install kserve-runtime-configs "$KSERVE_CHART_REPO/kserve-runtime-configs" \
  --version "$KSERVE_VERSION" -n kserve --wait
wait_for "the KServe controller" 300s -n kserve --for=condition=Available deployment --all

step "Kubeflow Pipelines $KFP_VERSION (standalone, platform-agnostic)"
$KUBECTL apply -k "$KFP_CLUSTER_SCOPED" >/dev/null
wait_for "the applications.app.k8s.io CRD" 120s --for condition=established crd/applications.app.k8s.io
$KUBECTL apply -k "$KFP_PLATFORM_AGNOSTIC" >/dev/null
# Only KFP's own deployments: the driftloop release lives in this namespace too (a re-run must not wait on it).
wait_for "Kubeflow Pipelines (API server, UI, database, object store)" 900s -n kubeflow \
  --for=condition=Available deployment -l application-crd-id=kubeflow-pipelines
# The visualization server (a multi-GB TensorFlow image) renders notebook-style outputs we do not produce.
$KUBECTL -n kubeflow scale deployment ml-pipeline-visualizationserver --replicas=0 >/dev/null 2>&1 || true
$KUBECTL -n kubeflow get service ml-pipeline-ui-nodeport >/dev/null 2>&1 || \
  $KUBECTL -n kubeflow expose deployment ml-pipeline-ui --name ml-pipeline-ui-nodeport --type NodePort \
    --port 80 --target-port 3000 --overrides '{"spec":{"ports":[{"port":80,"targetPort":3000,"nodePort":30880}]}}'

step "driftloop image"
# Tagged by commit, so a re-run with new code rolls the pods; also tagged with the package version, which
# the compiled pipeline's tasks name. Loaded as an archive: `kind load docker-image` fails with Docker's
# containerd image store (Docker >= 29; kind #3795, #4236).
TAG=$(git rev-parse --short=12 HEAD 2>/dev/null || echo dev)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)
docker build --build-arg DRIFTLOOP_CODE_VERSION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "driftloop:$TAG" -t "driftloop:$DRIFTLOOP_VERSION" .
archive=$(mktemp -d)/driftloop.tar
docker save -o "$archive" "driftloop:$TAG" "driftloop:$DRIFTLOOP_VERSION"
kind load image-archive "$archive" --name "$CLUSTER"
rm -f "$archive"

CHART_VALUES=()
if [[ $RAY ]]; then
  step "KubeRay operator $KUBERAY_VERSION"
  $HELM upgrade --install kuberay-operator kuberay-operator --repo "$KUBERAY_CHART_REPO" \
    --version "$KUBERAY_VERSION" -n "$KUBERAY_NAMESPACE" --create-namespace --wait
  wait_for "the KubeRay operator" 300s -n "$KUBERAY_NAMESPACE" --for=condition=Available deployment --all
  CHART_VALUES=(-f helm/driftloop/values-ray.yaml)
fi
[[ $USE_CASE ]] && CHART_VALUES+=(--set "useCase=$USE_CASE")
if [[ $OBJECT_STORE ]]; then
  # KFP's SeaweedFS holds the data; its Secret (mlpipeline-minio-artifact) the credentials every pod reads.
  wait_for "SeaweedFS (KFP's object store)" 300s -n "$NAMESPACE" --for=condition=Available deployment/seaweedfs
  CHART_VALUES+=(-f helm/driftloop/values-object-store.yaml)
fi

step "driftloop chart"
# No --wait: Helm would hold the post-install hooks until every Deployment is ready, and MLflow waits for the
# database role the first hook makes. Helm still waits for the hooks (up to --timeout); the waits below do
# the rest.
$HELM upgrade --install driftloop helm/driftloop -n "$NAMESPACE" --create-namespace \
  ${CHART_VALUES[@]+"${CHART_VALUES[@]}"} --set image.tag="$TAG" --timeout 15m  # (bash 3.2: empty array)
if [[ $RAY ]]; then
  # KubeRay reports RayClusterProvisioned once every Ray pod has been ready (its status conditions, on by default).
  wait_for "the RayCluster (head and workers)" 600s -n "$NAMESPACE" --for=condition=RayClusterProvisioned \
    raycluster/driftloop-ray
fi
wait_for "MLflow" 300s -n "$NAMESPACE" --for=condition=Available deployment/driftloop-mlflow
# The InferenceService is named after the use case's model (or `modelName`): read what the chart rendered.
MODEL=$($KUBECTL get -n "$NAMESPACE" configmap driftloop-settings -o jsonpath='{.data.DRIFTLOOP_MODEL_NAME}')
echo "    waiting up to 600s for the InferenceService $MODEL"
if ! $KUBECTL wait -n "$NAMESPACE" --for=condition=Ready "inferenceservice/$MODEL" --timeout=600s >/dev/null; then
  echo "    not ready yet: the predictor answers once a champion exists (make pipeline, then make predict)"
fi

step "endpoints"
cat <<ENDPOINTS
  inference     http://127.0.0.1:8080/v1/models/$MODEL:predict   (make predict)
  MLflow        http://127.0.0.1:5000
  Evidently UI  http://127.0.0.1:8000
  Grafana       http://127.0.0.1:3000                                     (make dashboards)
  KFP UI        http://127.0.0.1:8880
  Prometheus    http://127.0.0.1:9090                                     (alerts: /alerts)
ENDPOINTS
