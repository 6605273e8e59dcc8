"""Who talks to MLflow: one MLflow user per component, so a model server cannot move `champion`.

MLflow runs its basic-auth app. The pipeline registers versions and moves aliases; the model servers and the
monitor only read; `admin` is the person at the UI (and the tests' operator). Passwords are generated, never
defaults: in the cluster a Secret holds them (the MLflow pod mounts them all, every other pod gets its own
password as MLflow's own `MLFLOW_TRACKING_PASSWORD`); in local mode they are files beside the API tokens,
created on first use, 0600 in a 0700 folder.

A process has one MLflow identity (MLflow's client reads it from the environment on every request). In the
cluster the pod's environment decides and nothing here changes it. In local mode every process of the platform
runs as the same OS user, so the code path chooses: `act_as` sets the identity a step, a server or the monitor
needs, unless the environment already names a user that we did not set (a person's own login wins).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

from pipelines.core.credentials import read_secret_file, write_secret_files
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings

USERNAME_VARIABLE = "MLFLOW_TRACKING_USERNAME"  # MLflow's own client settings
PASSWORD_VARIABLE = "MLFLOW_TRACKING_PASSWORD"
SET_BY_US_VARIABLE = "_DRIFTLOOP_MLFLOW_LOGIN"  # names the user act_as set (here or in a parent process)
FLASK_SECRET_KEY_FILE = "mlflow-flask-secret-key"  # MLflow's CSRF key: stable across restarts and workers
# The chart's Secret of them (helm/driftloop/templates/mlflow-users.yaml, release "driftloop"; tests/cluster).
CLUSTER_SECRET = "driftloop-mlflow-users"


class MlflowUser(StrEnum):
    """The MLflow users and what each may do (the server grants them at start: upstream_servers)."""

    ADMIN = "admin"  # MLflow's bootstrap admin: a person at the UI, user management
    PIPELINE = "driftloop-pipeline"  # the training pipeline: runs, artifacts, versions, aliases
    SERVING = "driftloop-serving"  # the model servers: read the champion and its artifacts
    MONITOR = "driftloop-monitor"  # drift and quality jobs, `monitor status`, the demo: read

    @property
    def password_file(self) -> str:
        """The file (local) and the Secret key (cluster) of this user's password."""
        return "mlflow-" + self.value.removeprefix("driftloop-")


SECRET_FILES = (*(user.password_file for user in MlflowUser), FLASK_SECRET_KEY_FILE)


def _files(settings: Settings) -> dict[str, str]:
    folder = Layout.from_settings(settings).credentials
    if settings.mode == "local":
        write_secret_files(folder, SECRET_FILES)
    return {name: read_secret_file(folder / name, f"MLflow secret {name}") for name in SECRET_FILES}


def mlflow_password(settings: Settings, user: MlflowUser) -> str:
    """The user's password: the local file, or in the cluster the mounted Secret (only the MLflow pod has all)."""
    return _files(settings)[user.password_file]


def all_mlflow_passwords(settings: Settings) -> dict[MlflowUser, str]:
    files = _files(settings)
    return {user: files[user.password_file] for user in MlflowUser}


def flask_secret_key(settings: Settings) -> str:
    return _files(settings)[FLASK_SECRET_KEY_FILE]


def act_as(settings: Settings, user: MlflowUser) -> None:
    """Talk to MLflow as `user` from now on in this process (and in the children it starts).

    Cluster mode: the pod's own identity stands. Local mode: the identity is set, replacing one that act_as set
    (here, or in the parent a child inherits it from), never a login someone exported before we ran (a person's,
    or the cluster's read from its Secret by `make pipeline`)."""
    if settings.mode != "local":
        return
    current = os.environ.get(USERNAME_VARIABLE, "")
    if current and os.environ.get(SET_BY_US_VARIABLE) != current:
        return
    os.environ[USERNAME_VARIABLE] = user.value
    os.environ[PASSWORD_VARIABLE] = mlflow_password(settings, user)
    os.environ[SET_BY_US_VARIABLE] = user.value


@contextmanager
def talking_as(settings: Settings, user: MlflowUser, cluster_password: str | None) -> Iterator[str]:
    """Talk to MLflow as `user` inside the block, as the login it yields; the identity before it afterwards.

    For a process that needs a second login for one act (the drift job's canary moves as the pipeline). Local
    mode: `act_as`. Cluster: the pod's login stands unless `cluster_password` (from the pod's own Secret) is
    given, which swaps the login in for the block only."""
    before = {name: os.environ.get(name) for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE, SET_BY_US_VARIABLE)}
    try:
        if settings.mode == "local":
            act_as(settings, user)
        elif cluster_password is not None:
            os.environ[USERNAME_VARIABLE], os.environ[PASSWORD_VARIABLE] = user.value, cluster_password
        yield os.environ.get(USERNAME_VARIABLE) or user.value
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def acting_login(settings: Settings, user: MlflowUser) -> str:
    """The MLflow login this process talks as once it acts as `user`: a person's own exported login wins, as in
    `act_as`. A move records it as who moved."""
    act_as(settings, user)
    return os.environ.get(USERNAME_VARIABLE) or user.value
