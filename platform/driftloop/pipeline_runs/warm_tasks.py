"""A local training run's tasks start from a warm process instead of a new interpreter each.

kfp.local's SubprocessRunner (without its per-task venv) starts each task with this process's interpreter,
`sys.executable`: for the run, that is `driftloop-task` (`task_client`), which hands the task to a host that has
the tasks' modules imported (`task_host`) and falls back to the real interpreter when there is none. The run's
steps, their order, arguments, outputs and logs are kfp.local's as before; only the imports are paid once.
`DRIFTLOOP_WARM_TASKS=false` runs every task in a new interpreter.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

from driftloop.pipeline_runs.task_client import HOST_VARIABLE
from pipelines.core.handoff import Handoff
from pipelines.core.ray_runtime import short_temp_root

logger = logging.getLogger(__name__)

LAUNCHER = "driftloop-task"  # the console script of `task_client`, beside the interpreter
# What the training pipeline's steps import (kfp's executor, our steps and what they import lazily: MLflow, and
# Feast through its MLflow plugin, in every step; scikit-learn, the ONNX converter and Ray Tune in training and
# evaluation), and what the libraries import late: Feast its offline store when it reads the repo's config (0.23 s
# in the feature step), Ray its `dag` package when a task disconnects (every task), MLflow its pyfunc flavour,
# tracing and git context when a run logs a model. MLflow's map of installed packages (0.23 s when the train step
# logs its model) is built here too. Not onnxruntime: it starts a thread pool at import whose destructor aborts a
# forked copy at exit (the host refuses to serve if anything imports it); it imports in 0.03 s.
TASK_MODULES = (
    "kfp.dsl.executor_main",
    "pipelines.training.steps",
    "mlflow",
    "mlflow.sklearn",
    "mlflow.pyfunc",
    "mlflow.tracing.processor.base_mlflow",
    "mlflow.tracking.request_header.registry",
    "git",
    "feast",
    "feast.infra.offline_stores.dask",
    "feast.infra.online_stores.sqlite",
    "sklearn.ensemble",
    "skl2onnx",
    "ray.tune",
    "ray.dag",
    "pipelines.registry.models:warm_requirements_map",
)
STOP_WAIT_S = 10.0
# `<pid>:<socket>` of a training task host that outlives the runs (the demo keeps one while it runs): a run's tasks
# start from it instead of a host of the run's own, which would import for 3 s first. Not a setting.
SHARED_HOST_VARIABLE = "_DRIFTLOOP_TRAINING_HOST"
# `<pid>:<socket>` of the host a process itself was forked from to run a command (the demo's command host): a run
# such a command submits in the background starts from it too. Not a setting.
COMMAND_HOST_VARIABLE = "_DRIFTLOOP_COMMAND_HOST"


def launcher_path() -> Path | None:
    """`driftloop-task` of this environment, if it is installed (the wheel and `make install` install it)."""
    path = Path(sys.executable).with_name(LAUNCHER)
    return path if path.exists() else None


@contextmanager
def task_host(environment: dict[str, str], log: Path, modules: tuple[str, ...]) -> Iterator[Handoff]:
    """While entered, a host that imported `modules` in `environment` takes tasks from `driftloop-task`
    launchers given the yielded handoff (in `HOST_VARIABLE`); it ends with the block, or with this process."""
    with tempfile.TemporaryDirectory(prefix="driftloop-tasks-", dir=short_temp_root()) as folder:
        socket_path = os.path.join(folder, "host.sock")
        command = [sys.executable, "-m", "driftloop.pipeline_runs.task_host", "--socket", socket_path,
                   "--parent", str(os.getpid()), *modules]  # fmt: skip
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as output:
            host = subprocess.Popen(command, env=environment, stdout=output, stderr=subprocess.STDOUT)
        logger.info("task host %d preloading %d modules (log %s)", host.pid, len(modules), log)
        try:
            yield Handoff(host.pid, socket_path)
        finally:
            host.terminate()
            try:
                host.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                host.kill()
                host.wait()


def training_task_host(
    environment: dict[str, str], log: Path, modules: tuple[str, ...]
) -> AbstractContextManager[Handoff]:
    """A task host for the training pipeline's steps: kfp's executor imports as it does in a task (kfp.local
    sets this variable in each task's command)."""
    return task_host({**environment, "_KFP_RUNTIME": "true"}, log, modules)


def shared_training_host(environment: dict[str, str]) -> Handoff | None:
    """The training task host a longer-lived process keeps for the runs it starts (`SHARED_HOST_VARIABLE`), if
    it is still there."""
    return Handoff.living(environment.get(SHARED_HOST_VARIABLE, ""))


@contextmanager
def warm_tasks(
    enabled: bool, environment: dict[str, str], log: Path, modules: tuple[str, ...] = TASK_MODULES
) -> Iterator[Handoff | None]:
    """While entered, kfp.local's tasks start from a host that imported `modules` in `environment` (the tasks'
    own environment): the shared one when a longer-lived process keeps one, else a host of the run's own;
    yields the host (None: tasks start cold)."""
    launcher = launcher_path()
    if not enabled or launcher is None:
        yield None
        return
    shared = shared_training_host(environment)
    with nullcontext(shared) if shared is not None else training_task_host(environment, log, modules) as host:
        interpreter = sys.executable
        os.environ[HOST_VARIABLE] = str(host)
        sys.executable = str(launcher)  # what kfp.local puts in place of `python3` in each task's command
        try:
            yield host
        finally:
            sys.executable = interpreter
            os.environ.pop(HOST_VARIABLE, None)
