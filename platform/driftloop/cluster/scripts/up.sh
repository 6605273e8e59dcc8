#!/usr/bin/env bash
# `make up`: a kind cluster with cert-manager, KServe (Standard mode), Kubeflow Pipelines and driftloop.
# Idempotent: every step checks what is there first; every wait names what it waits for, with a timeout.
set -euo pipefail
cd "$(dirname "$0")/../../../.."
BIN=.venv/bin
eval "$($BIN/python -m driftloop.cluster.upstream)"
CLUSTER=driftloop
NAMESPACE=$KFP_NAMESPACE  # beside KFP: its task pods mount our state volume and read our settings
KUBECTL="$BIN/kubectl --context kind-$CLUSTER"
HELM="$BIN/helm --kube-context kind-$CLUSTER"

step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit 1; }
wait_for() {  # wait_for <what> <timeout> <kubectl wait args...>
  local what=$1 timeout=$2; shift 2
  echo "    waiting up to $timeout for $what"
  $KUBECTL wait "$@" --timeout="$timeout" >/dev/null || fail "timed out after $timeout waiting for $what"
}

step "checking prerequisites"
command -v docker >/dev/null || fail "docker is not installed (https://docs.docker.com/get-docker/)"
docker info >/dev/null 2>&1 || fail "docker is installed but not running: start Docker Desktop or the docker service"
command -v kind >/dev/null || fail "kind is not installed: go install sigs.k8s.io/kind@v0.31.0 (or brew install kind)"
[[ -x $BIN/kubectl && -x $BIN/helm ]] || bash platform/driftloop/cluster/scripts/install-tools.sh
free_gib=$(awk '/MemAvailable/ {printf "%d", $2/1024/1024}' /proc/meminfo 2>/dev/null || echo 999)
((free_gib >= MIN_FREE_MEMORY_GIB)) || fail "only ${free_gib} GiB of memory free; cluster mode needs ${MIN_FREE_MEMORY_GIB} GiB"

step "kind cluster '$CLUSTER' ($KIND_NODE_IMAGE)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  echo "    already exists"
else
  kind create cluster --name "$CLUSTER" --config kind-config.yaml --wait 120s
fi

step "cert-manager $CERT_MANAGER_VERSION"
$KUBECTL apply -f "$CERT_MANAGER_MANIFEST" >/dev/null
wait_for "cert-manager webhooks" 300s -n cert-manager --for=condition=Available deployment --all

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
wait_for "Kubeflow Pipelines (API server, UI, database, object store)" 900s -n kubeflow \
  --for=condition=Available deployment --all
$KUBECTL -n kubeflow get service ml-pipeline-ui-nodeport >/dev/null 2>&1 || \
  $KUBECTL -n kubeflow expose deployment ml-pipeline-ui --name ml-pipeline-ui-nodeport --type NodePort \
    --port 80 --target-port 3000 --overrides '{"spec":{"ports":[{"port":80,"targetPort":3000,"nodePort":30880}]}}'

step "driftloop image"
docker build --build-arg DRIFTLOOP_CODE_VERSION="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t driftloop:0.1.0 .
kind load docker-image driftloop:0.1.0 --name "$CLUSTER"

step "driftloop chart"
$HELM upgrade --install driftloop helm/driftloop -n "$NAMESPACE" --create-namespace --wait --timeout 15m
wait_for "MLflow" 300s -n "$NAMESPACE" --for=condition=Available deployment/driftloop-mlflow
wait_for "the InferenceService" 600s -n "$NAMESPACE" --for=condition=Ready inferenceservice/fraud-detector || \
  echo "    (the predictor becomes ready once a champion exists: run make pipeline)"

step "endpoints"
cat <<ENDPOINTS
  inference     http://127.0.0.1:8080/v1/models/fraud-detector:predict   (make predict)
  MLflow        http://127.0.0.1:5000
  Evidently UI  http://127.0.0.1:8000
  Grafana       http://127.0.0.1:3000                                     (make dashboards)
  KFP UI        http://127.0.0.1:8880
ENDPOINTS
