"""Where the demo's platform runs: processes on this machine, or the kind cluster `make up` built.

A target brings the platform up (or checks that it is up), names its endpoints, and gives the demo a
`PlatformClient` whose commands run where the platform's state lives: here, the `driftloop` CLI; in the
cluster, the same CLI inside the predictor pod (it mounts the state volume and reads the release's settings),
reached with `kubectl exec` through driftloop.cluster.remote, the way `driftloop --target cluster` reaches it.
Traffic and labels go to the inference endpoint either way (the cluster's NodePort is mapped to the same host
port by kind-config.yaml).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from typing import Protocol

import httpx

from driftloop.cluster.pod_commands import API_TOKENS_SECRET, pod_command
from driftloop.cluster.remote import ClusterAddress, ClusterPlatform
from driftloop.demo.client import PlatformClient
from driftloop.local.runtime import LocalPlatform, driftloop_command
from driftloop.local.services import inference_url
from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
from driftloop.pipeline_runs.run_ray import held_ray, needs_ray
from driftloop.pipeline_runs.step_progress import StepFollower
from driftloop.pipeline_runs.task_client import HOST_VARIABLE
from driftloop.pipeline_runs.warm_tasks import (
    COMMAND_HOST_VARIABLE,
    SHARED_HOST_VARIABLE,
    TASK_MODULES,
    launcher_path,
    task_host,
    training_task_host,
)
from pipelines.core.credentials import load_credentials
from pipelines.core.errors import DriftloopError
from pipelines.core.handoff import Handoff
from pipelines.core.layout import Layout
from pipelines.core.ray_runtime import HOLDER_VARIABLE
from pipelines.core.settings import Settings
from pipelines.core.training_request import TrainingRequest
from pipelines.core.use_case import UseCase, load_use_case, use_case_module
from pipelines.registry.users import CLUSTER_SECRET, PASSWORD_VARIABLE, USERNAME_VARIABLE, MlflowUser

logger = logging.getLogger(__name__)

# What the demo's commands import (landings, the feature refresh, drift checks, the quality job, the status
# commands): each new interpreter spent 1-6 s on these (a drift check 5.9 s of its 7.4 s, Evidently alone 3 s).
COMMAND_MODULES = (
    "driftloop.cli",
    "driftloop.pipeline_runs.factory",
    "pandas",
    "pyarrow.parquet",
    "pipelines.data.event_store",
    "pipelines.data.landing",
    "pipelines.features.refresh",
    "monitoring.check",
    "monitoring.canary_check",
    "monitoring.quality",
    "mlflow",
    "mlflow.tracking",
    "feast",
    "dask.dataframe",
    "evidently",
    "evidently.presets",
    "evidently.metrics",
    "evidently.ui.workspace",
    "sklearn.metrics",
    "kfp.local",  # a training run the demo or a drift check starts: kfp, the pipeline and its steps' module
    "pipelines.kfp.training_pipeline",
)


class DemoTarget(Protocol):
    """Where the demo runs (local processes or a kind cluster): one story, two ways to reach it."""

    name: str

    def close(self) -> None:
        """Stop what the target started for the demo itself (the platform keeps running)."""
        ...

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
        self.helpers = ExitStack()
        self.command_host: Handoff | None = None
        self.training_host: Handoff | None = None
        self.ray_holder: Handoff | None = None

    def start(self) -> dict[str, str]:
        if self.settings.warm_tasks and launcher_path() is not None:
            # The demo's commands start warm, as a training run's tasks do, and so do the runs they start and those
            # runs' steps: the hosts import while the platform comes up, and end with the demo.
            environment = self.platform.child_env()
            use_case = tuple(filter(None, [use_case_module(self.settings.use_case)]))
            self.command_host = self.helpers.enter_context(
                task_host(environment, self.layout.logs / "command-host.log", (*COMMAND_MODULES, *use_case))
            )
            self.training_host = self.helpers.enter_context(
                training_task_host(environment, self.layout.logs / "demo-task-host.log", (*TASK_MODULES, *use_case))
            )
        self.platform.up(lambda line: None)
        searching = TrainingRequest.from_settings(
            self.settings, trigger="drift", search_trials=self.settings.search_trials
        )
        if needs_ray(self.settings, searching):  # a drift-triggered run searches: its Ray is up before the run starts
            log = self.layout.logs / "demo-ray.log"  # (started once the services are: they start on the same cores)
            self.ray_holder = self.helpers.enter_context(held_ray(self.settings, self.platform.child_env(), log))
        services = {status.name: status.url for status in self.platform.status()}
        return {**services, "inference": inference_url(self.settings)}

    def client(self, endpoints: dict[str, str]) -> PlatformClient:
        env = self.platform.child_env()
        command = driftloop_command()
        if self.command_host is not None and (launcher := launcher_path()) is not None:
            env[HOST_VARIABLE] = env[COMMAND_HOST_VARIABLE] = str(self.command_host)
            command = [str(launcher), "-m", "driftloop"]  # `python -m driftloop`, forked from the host
        if self.training_host is not None:
            env[SHARED_HOST_VARIABLE] = str(self.training_host)
        if self.ray_holder is not None:
            env[HOLDER_VARIABLE] = str(self.ray_holder)
        tokens = {scope.value: token for scope, token in load_credentials(self.settings).tokens.items()}
        use_case = load_use_case(self.settings.use_case)
        return PlatformClient(command, env, endpoints["inference"], self.settings.model_name, tokens, use_case)

    def close(self) -> None:
        self.helpers.close()

    def train(self, client: PlatformClient, trigger: str) -> None:
        client.run_in_view("pipeline", "run", "training", "--trigger", trigger)

    def retraining_finished(self, handle: str) -> bool:
        return not LocalPipelineRunner(self.settings).is_active(handle)

    def retraining_steps(self, say: Callable[[str], None]) -> AbstractContextManager[object]:
        return StepFollower(self.layout.logs / "retraining.log", say)


class ClusterClient(PlatformClient):
    """Commands run in the predictor pod, built and run by driftloop.cluster (the CLI's `--target cluster` runs
    the same): a landing streams the file into the pod, a command that needs the Feast registry gets its role's
    URL from the release's Secret on stdin."""

    def __init__(
        self,
        endpoint: str,
        model: str,
        tokens: dict[str, str],
        use_case: UseCase,
        platform: ClusterPlatform,
    ) -> None:
        command = platform.exec_argv(pod_command(()))
        super().__init__(command, dict(os.environ), endpoint, model, tokens, use_case)
        self.platform = platform

    def invocation(self, args: tuple[str, ...]) -> tuple[list[str], str | None]:
        command = pod_command(args)
        header = self.platform.stdin_header(command.secrets).decode()
        return self.platform.exec_argv(command), header or None

    def land(self, kind: str, path: Path) -> str:
        result = self.platform.run(pod_command(("data", "ingest", kind, str(path))), capture=True)
        if result.returncode != 0:
            raise DriftloopError(f"demo: landing {path.name} in the cluster failed: {result.stderr.decode()[-300:]}")
        return result.stdout.decode().strip().splitlines()[-1]


class ClusterTarget:
    """A running kind cluster (`make up`): endpoints on the host ports kind-config.yaml maps."""

    name = "cluster"

    def __init__(self, settings: Settings, kubectl: str | None = None) -> None:
        self.settings = settings
        self.layout = Layout.from_settings(settings)
        self.platform = ClusterPlatform(ClusterAddress.from_settings(settings, kubectl), settings.model_name)

    def close(self) -> None:
        """Nothing to stop: the demo starts nothing of its own in the cluster."""

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
            os.environ[PASSWORD_VARIABLE] = self.platform.secret_value(CLUSTER_SECRET, MlflowUser.MONITOR.password_file)
        return endpoints

    def client(self, endpoints: dict[str, str]) -> PlatformClient:
        self.platform.predictor_pod()  # first: no pod, no demo
        tokens = {scope: self.token(scope) for scope in ("score", "label")}
        use_case = load_use_case(self.settings.use_case)
        return ClusterClient(endpoints["inference"], self.settings.model_name, tokens, use_case, self.platform)

    def token(self, scope: str) -> str:
        """A token from the chart's Secret (what a user reads with kubectl, docs/operations.md: credentials)."""
        return self.platform.secret_value(API_TOKENS_SECRET, scope)

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
