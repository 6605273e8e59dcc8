# Cluster mode (kind). Included by the Makefile; needs Docker, kind and >= 12 GiB free memory.
CLUSTER_CONTEXT := --context kind-driftloop

up: install ## Cluster mode: kind + cert-manager + KServe (Standard) + KFP + the driftloop chart (idempotent)
	bash platform/driftloop/cluster/scripts/up.sh

down: ## Cluster mode: delete the kind cluster
	kind delete cluster --name driftloop

cluster-status: ## Cluster mode: pods, the InferenceService and the drift CronJob
	$(BIN)/kubectl $(CLUSTER_CONTEXT) -n driftloop get pods,inferenceservice,cronjob

pipeline: install ## Cluster mode: submit the compiled training pipeline to KFP (port-forwards the API)
	$(BIN)/driftloop pipeline compile
	$(BIN)/kubectl $(CLUSTER_CONTEXT) -n kubeflow port-forward svc/ml-pipeline 8888:8888 >/dev/null & \
	  trap "kill $$!" EXIT; sleep 3; \
	  DRIFTLOOP_MODE=kind DRIFTLOOP_KFP_HOST=http://127.0.0.1:8888 $(BIN)/python -c \
	  "from driftloop.settings import get_settings; from driftloop.pipeline_runs.kfp_runner import KfpApiRunner; \
	  from driftloop.pipeline_runs.request import TrainingRequest; s = get_settings(); \
	  print(KfpApiRunner(s).submit(TrainingRequest.from_settings(s, trigger='make pipeline')))"

predict: ## Cluster mode: score a sample transaction on the inference endpoint
	curl -s 127.0.0.1:8080/v1/models/fraud-detector:predict -H 'content-type: application/json' \
	  -d '{"instances": [{"customer_id": 17, "merchant_id": 4, "amount": 42.5, "channel": "online"}]}'; echo

dashboards: ## Cluster mode: print the dashboard URLs (and how to get the Grafana password)
	@echo "Grafana       http://127.0.0.1:3000  (admin / kubectl -n driftloop get secret driftloop-grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
	@echo "Evidently UI  http://127.0.0.1:8000"
	@echo "MLflow        http://127.0.0.1:5000"
	@echo "KFP UI        http://127.0.0.1:8880"
