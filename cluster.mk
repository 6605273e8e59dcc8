# Cluster mode (kind). Included by the Makefile; needs Docker, kind and >= 12 GiB free memory.
CLUSTER_CONTEXT := --context kind-driftloop
# The release lives in KFP's namespace (pipelines/cluster_wiring.py says why).
CLUSTER_NAMESPACE := kubeflow

up: install ## Cluster mode: kind + cert-manager + KServe (Standard) + KFP + the driftloop chart (idempotent)
	bash platform/driftloop/cluster/scripts/up.sh

down: ## Cluster mode: delete the kind cluster
	kind delete cluster --name driftloop

cluster-status: ## Cluster mode: pods, the InferenceService and the drift CronJob
	$(BIN)/kubectl $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) get pods,inferenceservice,cronjob -l app.kubernetes.io/part-of=driftloop

pipeline: install ## Cluster mode: submit the training pipeline to KFP and wait for the gate (port-forwards the API)
	$(BIN)/kubectl $(CLUSTER_CONTEXT) -n $(CLUSTER_NAMESPACE) port-forward svc/ml-pipeline 8888:8888 >/dev/null & \
	  trap "kill $$!" EXIT; sleep 3; \
	  $(BIN)/driftloop pipeline submit --kfp-host http://127.0.0.1:8888 --trigger "make pipeline" --wait

demo-cluster: install ## Cluster mode: the demo's story against the running cluster (after `make up`)
	$(BIN)/driftloop demo --target cluster

predict: ## Cluster mode: score a sample transaction on the inference endpoint
	curl -s 127.0.0.1:8080/v1/models/fraud-detector:predict -H 'content-type: application/json' \
	  -d '{"instances": [{"customer_id": 17, "merchant_id": 4, "amount": 42.5, "channel": "online"}]}'; echo

dashboards: ## Cluster mode: print the dashboard URLs (and how to get the Grafana password)
	@echo "Grafana       http://127.0.0.1:3000  (admin / kubectl -n $(CLUSTER_NAMESPACE) get secret driftloop-grafana -o jsonpath='{.data.admin-password}' | base64 -d)"
	@echo "Evidently UI  http://127.0.0.1:8000"
	@echo "MLflow        http://127.0.0.1:5000"
	@echo "KFP UI        http://127.0.0.1:8880"
