# Cluster mode (kind). Included by the Makefile; needs an x86-64 host, Docker with >= 12 GiB of memory and kind.
CLUSTER_CONTEXT := --context kind-driftloop
# The release lives in KFP's namespace (pipelines/kfp/cluster_wiring.py says why).
CLUSTER_NAMESPACE := kubeflow
PREDICT_TRIES ?= 30
KUBECTL ?= $(BIN)/kubectl

up: install ## Cluster mode: kind + cert-manager + KServe (Standard) + KFP + the driftloop chart (idempotent; USE_CASE=delivery runs that use case, fraud by default; RAY=1 adds KubeRay and a RayCluster; OBJECT_STORE=1 keeps the data on KFP's SeaweedFS)
	bash platform/driftloop/cluster/scripts/up.sh $(if $(RAY),--ray) $(if $(OBJECT_STORE),--object-store) $(if $(USE_CASE),--use-case $(USE_CASE))

down: ## Cluster mode: delete the kind cluster
	kind delete cluster --name driftloop

cluster-status: ## Cluster mode: pods, the InferenceService and the drift CronJob
	$(BIN)/kubectl $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) get pods,inferenceservice,cronjob -l app.kubernetes.io/part-of=driftloop

pipeline: install ## Cluster mode: submit the training pipeline to KFP and wait for the gate (port-forwards the API; reads MLflow as driftloop-monitor)
	@port=$$($(BIN)/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	  $(BIN)/kubectl $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) port-forward svc/ml-pipeline $$port:8888 >/dev/null & \
	  trap "kill $$!" EXIT; \
	  for i in $$(seq 1 30); do curl -sf 127.0.0.1:$$port/apis/v2beta1/healthz >/dev/null && break; \
	    [ $$i = 30 ] && { echo "error: the KFP API did not answer on port $$port within 30s" >&2; exit 1; }; sleep 1; done; \
	  export MLFLOW_TRACKING_USERNAME=driftloop-monitor; \
	  MLFLOW_TRACKING_PASSWORD=$$($(KUBECTL) $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) get secret driftloop-mlflow-users \
	    -o jsonpath='{.data.mlflow-monitor}' | base64 -d); \
	  [ -n "$$MLFLOW_TRACKING_PASSWORD" ] || { echo "error: no MLflow login (Secret driftloop-mlflow-users); is the release installed? (make up)" >&2; exit 1; }; \
	  export MLFLOW_TRACKING_PASSWORD; \
	  $(BIN)/driftloop pipeline submit --kfp-host http://127.0.0.1:$$port --trigger "make pipeline" --wait

demo-cluster: install ## Cluster mode: the demo's story against the running cluster (after `make up`)
	$(BIN)/driftloop demo --target cluster

predict: ## Cluster mode: score the release's use case's example request on the inference endpoint (retries until the champion answers)
	@set -o pipefail; token=$$($(KUBECTL) $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) get secret driftloop-api-tokens -o jsonpath='{.data.score}' | base64 -d) || \
	  { echo "error: no API token (Secret driftloop-api-tokens); is the release installed? (make up)" >&2; exit 1; }; \
	settings=$$($(KUBECTL) $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) get configmap driftloop-settings \
	  -o jsonpath='{.data.DRIFTLOOP_USE_CASE} {.data.DRIFTLOOP_MODEL_NAME}') || \
	  { echo "error: no settings (ConfigMap driftloop-settings); is the release installed? (make up)" >&2; exit 1; }; \
	use_case=$${settings% *}; model=$${settings#* }; \
	body=$$($(BIN)/python -c 'import json, sys; from pipelines.core.use_case import load_use_case; \
	  print(json.dumps({"instances": [dict(load_use_case(sys.argv[1]).example_request)]}))' "$$use_case") || exit 1; \
	for i in $$(seq 1 $(PREDICT_TRIES)); do \
	  curl -sf "127.0.0.1:8080/v1/models/$$model:predict" -H 'content-type: application/json' \
	    -H "Authorization: Bearer $$token" -d "$$body" && echo && exit 0; \
	  sleep 2; done; \
	echo "error: no answer from 127.0.0.1:8080 after $(PREDICT_TRIES) tries (no champion yet? run make pipeline)" >&2; exit 1

dashboards: ## Cluster mode: print the dashboard URLs (and how to get the Grafana password)
	@echo "Grafana       http://127.0.0.1:3000  (admin / kubectl -n $(CLUSTER_NAMESPACE) get secret driftloop-grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
	@echo "Evidently UI  http://127.0.0.1:8000"
	@echo "MLflow        http://127.0.0.1:5000  (admin / kubectl -n $(CLUSTER_NAMESPACE) get secret driftloop-mlflow-users -o jsonpath='{.data.mlflow-admin}' | base64 -d)"
	@echo "KFP UI        http://127.0.0.1:8880"
	@echo "Prometheus    http://127.0.0.1:9090  (alerts: /alerts)"
