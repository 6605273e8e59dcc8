"""Command lines of the upstream servers we run (MLflow, a Ray head), built from settings.

`driftloop serve mlflow|ray` exec these, in a local process or in a cluster container alike, so
both modes start the servers with the same arguments.
"""

from __future__ import annotations

import resource
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from driftloop.mlflow_auth import APP_NAME
from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings


def _console_script(name: str) -> str:
    """The upstream script installed beside our interpreter (the venv), else the one on PATH."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise DriftloopError(f"`{name}` is not installed in this environment; run `make install`")
    return found


def _ensure_sqlite_folder(uri: str) -> None:
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


# MLflow 3.17's server starts a job runner and seven huey consumers (about 200 MiB and a tenth of a core each,
# all the time) for features driftloop does not use; a setting the user made wins.
MLFLOW_SERVER_ENVIRONMENT = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def mlflow_server_command(settings: Settings) -> list[str]:
    """MLflow tracking server + registry behind its basic-auth app (driftloop.mlflow_auth sets it up); artifacts
    are proxied, so clients need no storage credentials and every upload passes the auth app."""
    layout = Layout.from_settings(settings)
    _ensure_sqlite_folder(layout.mlflow_backend_store_uri)
    if "://" not in layout.mlflow_artifacts_destination:
        Path(layout.mlflow_artifacts_destination).mkdir(parents=True, exist_ok=True)
    command = [
        _console_script("mlflow"),
        "server",
        "--app-name",
        APP_NAME,
        "--backend-store-uri",
        layout.mlflow_backend_store_uri,
        "--artifacts-destination",
        layout.mlflow_artifacts_destination,
        "--serve-artifacts",
        "--host",
        settings.bind_host,
        "--port",
        str(settings.mlflow_port),
        "--workers",
        str(settings.mlflow_workers),
    ]
    if settings.mlflow_allowed_hosts:
        command += ["--allowed-hosts", settings.mlflow_allowed_hosts]
    return command


def ray_head_command(settings: Settings) -> list[str]:
    """A single-node Ray head in the foreground, bounded like the engine's own local Ray: `ray_cpus` CPUs and a
    `ray_object_store_mib` object store. No dashboard (it needs `ray[default]`, and only a cluster's job API
    uses it). Its session files go under a short folder of the system's temporary directory, named by port:
    Ray's socket paths must stay under the 107-byte limit of a Unix socket, which a deep state folder breaks."""
    return [
        _console_script("ray"),
        "start",
        "--head",
        "--block",
        "--port", str(settings.ray_port),
        "--node-ip-address", settings.host,
        "--num-cpus", str(settings.ray_cpus),
        "--object-store-memory", str(settings.ray_object_store_mib * 2**20),
        "--include-dashboard", "false",
        "--disable-usage-stats",
        "--temp-dir", str(Path(tempfile.gettempdir()) / f"driftloop-ray-{settings.ray_port}"),
    ]  # fmt: skip


KUBERAY_START_VARIABLE = "KUBERAY_GEN_RAY_START_CMD"


def kuberay_node_command(environment: Mapping[str, str]) -> list[str]:
    """The `ray start` KubeRay generated for this pod (its RayCluster sets `ray.io/overwrite-container-cmd`,
    so the container runs our command and KubeRay hands its own over in an environment variable), with our
    `ray`. Raises the soft open-files limit to the hard one first, as KubeRay's own command (`ulimit -n`) does."""
    generated = environment.get(KUBERAY_START_VARIABLE, "").strip()
    words = shlex.split(generated)
    if words[:2] != ["ray", "start"]:
        raise DriftloopError(
            f"{KUBERAY_START_VARIABLE} should hold KubeRay's `ray start ...`, found {generated!r}: "
            "`serve ray --kuberay` runs only in a RayCluster pod with ray.io/overwrite-container-cmd set"
        )
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return [_console_script("ray"), *words[1:]]
