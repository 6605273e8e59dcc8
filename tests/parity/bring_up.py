"""The chart brought up here in the order Kubernetes would: backends, the post-install hooks, servers, then the
loop driven through the chart's containers (training submitted to the KFP API, traffic through the
InferenceService, each CronJob's command once). Every step writes its log under the run folder."""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kfp_api_stand_in import StandInKfpApi
from tests.parity.chart import RELEASE, RenderedChart
from tests.parity.cluster_map import ClusterMap
from tests.parity.kfp_tasks import run_submitted
from tests.parity.pods import Pods, Process
from use_cases.fraud.schema import CHANNELS

logger = logging.getLogger(__name__)

BACKENDS = (
    "StatefulSet/driftloop-postgres",
    "Deployment/driftloop-redis",
    "StatefulSet/driftloop-stream-redis",
    "Deployment/driftloop-pushgateway",
)
# The stream worker reads the Feast registry the hooks make, as the servers do.
SERVERS = (
    "Deployment/driftloop-mlflow",
    "Deployment/driftloop-evidently",
    "Deployment/driftloop-alertmanager",
    "Deployment/driftloop-prometheus",
    "StatefulSet/driftloop-stream-worker",
)
# Every other workload of the chart is run above or by the harness; this one cannot be, and why.
NOT_RUN = {"Deployment/driftloop-grafana": "Grafana is not in Debian: each panel's query runs against Prometheus"}
CRONJOBS = ("CronJob/driftloop-feature-refresh", "CronJob/driftloop-drift", "CronJob/driftloop-quality")
KFP_API_POD = "kfp-api (stand-in)"


def kserve_appended_args(chart: RenderedChart, namespace: str) -> list[str]:
    """What KServe's controller appends to a custom transformer container's args (CustomTransformer.GetContainer):
    the model name, the predictor's Service host and the default HTTP port."""
    isvc = chart.inference_service
    return ["--model_name", isvc, "--predictor_host", f"{isvc}-predictor.{namespace}", "--http_port", "8080"]


@dataclass
class ParityRun:
    chart: RenderedChart
    table: ClusterMap
    pods: Pods
    namespace: str
    processes: dict[str, Process] = field(default_factory=dict)
    kfp: StandInKfpApi | None = None
    job_logs: dict[str, str] = field(default_factory=dict)
    answers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def settings_env(self) -> dict[str, str]:
        return self.chart.config_map(f"{RELEASE}-settings")

    def token(self, scope: str) -> str:
        """A token from the chart's API credentials Secret, as a user reads it with kubectl."""
        return self.chart.secret(f"{RELEASE}-api-tokens")[scope]

    def url(self, service: str, port: int) -> str:
        return f"http://{self.table.address(service, port)}"

    def start(self, workload: str, appended_args: list[str] | None = None) -> None:
        """The pod's init containers to their end, in order, then its container (as the kubelet does)."""
        for container in self.chart.containers(workload):
            if container.workload != workload:
                continue
            if container.init:
                process = self.pods.run(container, timeout=120)
                self.job_logs[f"{workload}/{container.name}"] = process.log.read_text(errors="replace")
                continue
            self.processes[workload] = self.pods.start(container, appended_args)

    def wait_ready(self, workload: str, timeout: float = 240, live_only: bool = False) -> None:
        self.pods.wait_ready(self.processes[workload], timeout, live_only)

    def run_job(self, workload: str, timeout: float = 900) -> None:
        """A Job's (or a CronJob's job's) containers: init containers in order, then the main one."""
        containers = [c for c in self.chart.containers(workload) if c.workload == workload]
        for container in sorted(containers, key=lambda c: not c.init):
            started = time.monotonic()
            process = self.pods.run(container, timeout)
            self.job_logs[f"{workload}/{container.name}"] = process.log.read_text(errors="replace")
            logger.info("%s/%s done in %.0f s", workload, container.name, time.monotonic() - started)


def http_json(
    url: str, body: dict[str, Any] | None = None, timeout: float = 30, token: str | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return reply.status, json.loads(reply.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def hook_jobs(chart: RenderedChart) -> list[str]:
    """The post-install hook Jobs in the order Helm runs them: by hook weight, then by name."""
    hooks = [job for job in chart.of_kind("Job") if "post-install" in _annotation(job, "helm.sh/hook")]
    hooks.sort(key=lambda job: (int(_annotation(job, "helm.sh/hook-weight") or 0), job["metadata"]["name"]))
    return [f"Job/{job['metadata']['name']}" for job in hooks]


def _annotation(obj: dict[str, Any], key: str) -> str:
    return str(obj["metadata"].get("annotations", {}).get(key, ""))


def bring_up(run: ParityRun) -> None:
    """Everything up to a served champion, in Kubernetes's order."""
    for workload in BACKENDS:
        run.start(workload)
    for workload in BACKENDS:
        run.wait_ready(workload)
    # make up installs without --wait, so Helm runs the hooks, one after the other by weight, as soon as the
    # release's objects exist: the database roles, then the Feast job. Meanwhile MLflow's pod waits in its init
    # container for its role and the model server that looks features up (the in-process predictor, or the
    # transformer) restarts until the Feast registry exists (it reads it as feast_reader, which may not create
    # it); here they start once the hooks have run.
    for job in hook_jobs(run.chart):
        run.run_job(job)
    for workload in SERVERS:
        run.start(workload)
    isvc = run.chart.inference_service
    for part in run.chart.model_servers:
        appended = kserve_appended_args(run.chart, run.namespace) if part == "transformer" else None
        run.start(f"InferenceService/{isvc}/{part}", appended)
    for workload in SERVERS:
        run.wait_ready(workload)
    # Up, not ready: readiness needs a champion, which the first training run makes (send_traffic waits for it).
    for part in run.chart.model_servers:
        run.wait_ready(f"InferenceService/{isvc}/{part}", live_only=True)


def start_kfp_api(run: ParityRun, logs: Path) -> Any:
    """The stand-in KFP API at the address the settings' DRIFTLOOP_KFP_HOST names (through the table)."""
    from tests.kfp_api_stand_in import serving

    parsed = urllib.parse.urlparse(run.settings_env["DRIFTLOOP_KFP_HOST"])
    service = parsed.hostname.split(".")[0] if parsed.hostname else ""
    run.table.add_route(service, parsed.port or 80, KFP_API_POD, parsed.port or 80)
    run.kfp = StandInKfpApi(execute=lambda submitted: run_submitted(submitted, run.chart, run.table, logs))
    host, port = run.table.address(service, parsed.port or 80).split(":")
    return serving(run.kfp, host, int(port))


def wait_for_runs(run: ParityRun, count: int, timeout: float = 900) -> list[dict[str, Any]]:
    assert run.kfp is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(run.kfp.runs.values())
        if len(runs) >= count and all(r["state"] not in ("RUNNING", "PENDING") for r in runs):
            return runs
        time.sleep(1)
    raise AssertionError(f"KFP runs not finished after {timeout:.0f} s: {[r['state'] for r in run.kfp.runs.values()]}")


def send_traffic(run: ParityRun, rows: int, seed: int = 7) -> None:
    """Transactions through the inference endpoint (the in-process predictor, or the transformer), then labels."""
    isvc = run.chart.inference_service
    endpoint = run.url(f"{RELEASE}-inference", 8080)
    rng = random.Random(seed)
    score = run.token("score")
    labels = []
    for index in range(rows):
        instance = {"customer_id": rng.randrange(1000), "merchant_id": rng.randrange(100),
                    "amount": round(rng.lognormvariate(3.5, 1.0), 2), "channel": rng.choice(CHANNELS),
                    "event_id": f"parity-{index:05d}"}  # fmt: skip
        status, answer = http_json(f"{endpoint}/v1/models/{isvc}:predict", {"instances": [instance]}, token=score)
        assert status == 200, f"predict answered {status}: {answer}"
        run.answers.append(answer)
        labels.append({"event_id": instance["event_id"], "is_fraud": int(answer["predictions"][0] > 0.5)})
    status, answer = http_json(f"{endpoint}/v1/labels", {"labels": labels}, token=run.token("label"))
    assert status == 200, f"labels answered {status}: {answer}"


def wait_for_champion(run: ParityRun, timeout: float = 180) -> dict[str, Any]:
    isvc = run.chart.inference_service
    endpoint = run.url(f"{RELEASE}-inference", 8080)
    probe = {"instances": [{"customer_id": 1, "merchant_id": 1, "amount": 10.0, "channel": "online"}]}
    deadline = time.monotonic() + timeout
    answer: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, answer = http_json(f"{endpoint}/v1/models/{isvc}:predict", probe, token=run.token("score"))
        if status == 200:
            return answer
        time.sleep(1)
    raise AssertionError(f"no champion served after {timeout:.0f} s: {answer}")
