"""Where the demo's platform runs: processes on this machine, or the kind cluster `make up` built.

A target brings the platform up (or checks that it is up), names its endpoints, and gives the demo a
`PlatformClient` whose commands run where the platform's state lives: here, the `driftloop` CLI; in the
cluster, the same CLI inside the predictor pod (it mounts the state volume and reads the release's settings),
reached with `kubectl exec`. Traffic and labels go to the inference endpoint either way (the cluster's
NodePort is mapped to the same host port by kind-config.yaml).
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Protocol

import httpx

from driftloop.cluster.upstream import PINS
from driftloop.demo.client import PlatformClient
from driftloop.local.runtime import LocalPlatform, driftloop_command
from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
from driftloop.pipeline_runs.step_progress import StepFollower
from pipelines.core.credentials import load_credentials
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import UseCase, load_use_case
from pipelines.registry.users import CLUSTER_SECRET, PASSWORD_VARIABLE, USERNAME_VARIABLE, MlflowUser

logger = logging.getLogger(__name__)

CLUSTER_CONTEXT = "kind-driftloop"  # the cluster `make up` creates (cluster.mk)
PREDICTOR_SELECTOR = "serving.kserve.io/inferenceservice={model},component=predictor"
PREDICTOR_CONTAINER = "kserve-container"  # KServe's name for the model server container (the chart's too)
API_TOKENS_SECRET = "driftloop-api-tokens"  # the chart's credentials (templates/api-tokens.yaml; tests/cluster)
DATABASE_SECRET = "driftloop-postgres"  # the chart's database Secret (templates/secrets.yaml; tests/cluster)
LANDING_IN_POD = "/tmp/demo-landing.parquet"  # the pod's /tmp is an emptyDir; its root file system is read-only
# The Feast registry role a command needs (platform/driftloop/database/roles.py): the predictor pod the demo
# execs into is an inference pod with no database login of its own. A refresh materialises; a drift check
# looks features up; a landing takes the registry database's advisory locks when the data is on the object store.
REGISTRY_ACCESS: dict[tuple[str, ...], str] = {
    ("features", "refresh"): "writer",
    ("monitor", "run"): "reader",
    ("data", "ingest"): "reader",
}
# Reads the registry URL from stdin, so it is on no command line (`ps` in the pod, the API server's audit log).
WITH_REGISTRY_URL = "IFS= read -r DRIFTLOOP_FEAST_REGISTRY_URI && export DRIFTLOOP_FEAST_REGISTRY_URI && "


class DemoTarget(Protocol):
    """Where the demo runs (local processes or a kind cluster): one story, two ways to reach it."""

    name: str

    def start(self) -> dict[str, str]:
        """Bring the platform up or check it is up; its endpoints by name."""
        ...

    def client(self, endpoints: dict[str, str]) -> PlatformClient: ...

    def train(self, client: PlatformClient, trigger: str) -> None:
        """Run the training pipeline to the end (the platform's own command for this target)."""
        ...

    def retraining_finished(self, handle: str) -> bool:
        """Whether the retraining run behind a drift check's handle has ended (True when it cannot tell)."""
        ...

    def retraining_steps(self, say: Callable[[str], None]) -> AbstractContextManager[object]:
        """While open, each finished step of the drift-triggered run is said (where the target can see them)."""
        ...


class LocalTarget:
    """The local platform: `driftloop local up`, and the CLI in this environment."""

    name = "local"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = Layout.from_settings(settings)
        self.platform = LocalPlatform(settings)

    def start(self) -> dict[str, str]:
        self.platform.up(lambda line: None)
        return {status.name: status.url for status in self.platform.status()}

    def client(self, endpoints: dict[str, str]) -> PlatformClient:
        env = self.platform.child_env()
        tokens = {scope.value: token for scope, token in load_credentials(self.settings).tokens.items()}
        use_case = load_use_case(self.settings.use_case)
        return PlatformClient(
            driftloop_command(), env, endpoints["transformer"], self.settings.model_name, tokens, use_case
        )

    def train(self, client: PlatformClient, trigger: str) -> None:
        client.run_in_view("pipeline", "run", "training", "--trigger", trigger)

    def retraining_finished(self, handle: str) -> bool:
        return not LocalPipelineRunner(self.settings).is_active(handle)

    def retraining_steps(self, say: Callable[[str], None]) -> AbstractContextManager[object]:
        return StepFollower(self.layout.logs / "retraining.log", say)


class ClusterClient(PlatformClient):
    """Commands run in the predictor pod; a landing streams the file to the pod's /tmp first. A command that
    needs the Feast registry (REGISTRY_ACCESS) gets the URL of that role from the release's Secret, which the
    person running the demo reads with kubectl as they read the tokens, on its stdin."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        endpoint: str,
        model: str,
        tokens: dict[str, str],
        use_case: UseCase,
        registry_url: Callable[[str], str],
    ) -> None:
        super().__init__(command, env, endpoint, model, tokens, use_case)
        self.registry_url = registry_url

    def invocation(self, args: tuple[str, ...]) -> tuple[list[str], str | None]:
        access = REGISTRY_ACCESS.get(args[:2])
        if access is None:
            return super().invocation(args)
        script = f'{WITH_REGISTRY_URL}exec driftloop "$@"'
        return [*self.command[:-1], "sh", "-c", script, "driftloop", *args], self.registry_url(access) + "\n"

    def land(self, kind: str, path: Path) -> str:
        script = f"{WITH_REGISTRY_URL}cat > {LANDING_IN_POD} && exec driftloop data ingest {kind} {LANDING_IN_POD}"
        stdin = (self.registry_url(REGISTRY_ACCESS["data", "ingest"]) + "\n").encode() + path.read_bytes()
        result = subprocess.run([*self.command[:-1], "sh", "-c", script], input=stdin, capture_output=True, check=False)
        if result.returncode != 0:
            raise DriftloopError(f"demo: landing {path.name} in the cluster failed: {result.stderr.decode()[-300:]}")
        return result.stdout.decode().strip().splitlines()[-1]


class ClusterTarget:
    """A running kind cluster (`make up`): endpoints on the host ports kind-config.yaml maps."""

    name = "cluster"

    def __init__(self, settings: Settings, kubectl: str = "kubectl") -> None:
        self.settings = settings
        self.layout = Layout.from_settings(settings)
        self.kubectl = [kubectl, "--context", CLUSTER_CONTEXT, "-n", PINS.kfp_namespace]

    def endpoints(self) -> dict[str, str]:
        host = self.settings.host
        return {
            "inference": f"http://{host}:8080",
            "mlflow": self.settings.tracking_uri,
            "evidently-ui": f"http://{host}:8000",
            "grafana": f"http://{host}:3000",
        }

    def start(self) -> dict[str, str]:
        endpoints = self.endpoints()
        try:
            ready = httpx.get(f"{endpoints['mlflow']}/health", timeout=10).status_code == 200
        except httpx.HTTPError:
            ready = False
        if not ready:
            raise DriftloopError(f"demo: no cluster answers at {endpoints['mlflow']}; run `make up` first")
        if USERNAME_VARIABLE not in os.environ:  # the demo reads the registry as the monitor does
            os.environ[USERNAME_VARIABLE] = MlflowUser.MONITOR.value
            os.environ[PASSWORD_VARIABLE] = self.secret_value(CLUSTER_SECRET, MlflowUser.MONITOR.password_file)
        return endpoints

    def predictor_pod(self) -> str:
        selector = PREDICTOR_SELECTOR.format(model=self.settings.model_name)
        found = subprocess.run(
            [*self.kubectl, "get", "pod", "-l", selector, "-o", "jsonpath={.items[0].metadata.name}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if found.returncode != 0 or not found.stdout.strip():
            raise DriftloopError(f"demo: no predictor pod ({selector}) in the cluster: {found.stderr.strip()}")
        return found.stdout.strip()

    def client(self, endpoints: dict[str, str]) -> PlatformClient:
        command = [*self.kubectl, "exec", "-i", self.predictor_pod(), "-c", PREDICTOR_CONTAINER, "--", "driftloop"]
        tokens = {scope: self.token(scope) for scope in ("score", "label")}
        use_case = load_use_case(self.settings.use_case)
        return ClusterClient(
            command, dict(os.environ), endpoints["inference"], self.settings.model_name, tokens, use_case,
            self.registry_url,
        )  # fmt: skip

    def token(self, scope: str) -> str:
        """A token from the chart's Secret (what a user reads with kubectl, README: credentials)."""
        return self.secret_value(API_TOKENS_SECRET, scope)

    def registry_url(self, access: str) -> str:
        """The Feast registry's URL as its `reader` or `writer` role, from the release's database Secret."""
        return self.secret_value(DATABASE_SECRET, f"feast-registry-{access}-uri")

    def secret_value(self, secret: str, key: str) -> str:
        found = subprocess.run(
            [*self.kubectl, "get", "secret", secret, "-o", f"jsonpath={{.data.{key}}}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if found.returncode != 0 or not found.stdout.strip():
            raise DriftloopError(f"demo: no {key} in Secret {secret}: {found.stderr.strip()}")
        return base64.b64decode(found.stdout.strip()).decode()

    def train(self, client: PlatformClient, trigger: str) -> None:
        client.run("pipeline", "submit", "--trigger", trigger, "--wait")  # the KFP API, from inside the cluster

    def retraining_finished(self, handle: str) -> bool:
        return True  # the KFP run is followed by the served version instead

    def retraining_steps(self, say: Callable[[str], None]) -> AbstractContextManager[object]:
        return nullcontext()  # the run's steps are in the KFP UI


def target_for(name: str, settings: Settings) -> DemoTarget:
    if name == "local":
        return LocalTarget(settings)
    if name == "cluster":
        return ClusterTarget(settings)
    raise DriftloopError(f"unknown demo target {name!r}: use local or cluster")
