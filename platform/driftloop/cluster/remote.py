"""Reaching a cluster release from this machine, through the Kubernetes API with `kubectl`: its predictor pod,
its Secrets, and `driftloop` commands run in that pod.

The predictor pod mounts the state volume and reads the release's settings, so a command run there acts on the
cluster's state exactly as the chart's own jobs do. The demo's cluster target and the CLI's `--target cluster`
both come through here: one way in, tested once.
"""

from __future__ import annotations

import base64
import logging
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from driftloop.cluster.pod_commands import PREDICTOR_CONTAINER, PREDICTOR_SELECTOR, FromSecret, PodCommand
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)

CHUNK = 1 << 20  # a landing streams its files in pieces of this size, never whole in memory


@dataclass(frozen=True)
class ClusterAddress:
    """Where kubectl finds the release.

    Attributes:
        context: the kubeconfig context (`make up`'s cluster by default; never the user's current one).
        namespace: the release's namespace.
        kubectl: the kubectl executable (a name on PATH or a path).
    """

    context: str
    namespace: str
    kubectl: str = "kubectl"

    @classmethod
    def from_settings(cls, settings: Settings, kubectl: str | None = None) -> ClusterAddress:
        return cls(settings.cluster_context, settings.cluster_namespace, kubectl or find_kubectl())

    def argv(self, *args: str) -> list[str]:
        """`kubectl --context C -n N ARGS`: an explicit context, so the user's kubeconfig is never changed."""
        return [self.kubectl, "--context", self.context, "-n", self.namespace, *args]


def find_kubectl() -> str:
    """kubectl on PATH, else the pinned one `make up` installs beside this interpreter (.venv/bin), which a user
    running `.venv/bin/driftloop` without activating the environment would not have on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    return shutil.which("kubectl") or (str(beside) if beside.exists() else "kubectl")


def explain_kubectl_failure(address: ClusterAddress, stderr: str) -> str | None:
    """kubectl's commonest failures as a line a user can act on (None: show kubectl's own words)."""
    if "context" in stderr and "does not exist" in stderr:
        return (
            f"no kubectl context {address.context!r}: create the cluster (`make up`) or name yours with "
            "DRIFTLOOP_CLUSTER_CONTEXT"
        )
    if "connection to the server" in stderr or "dial tcp" in stderr or "Unable to connect" in stderr:
        return f"the cluster of context {address.context!r} does not answer: is it running? (`make up`)"
    return None


def exec_argv(address: ClusterAddress, pod: str, command: PodCommand) -> list[str]:
    """The kubectl argv that runs `command` in the pod's model server container, stdin attached."""
    return address.argv("exec", "-i", pod, "-c", PREDICTOR_CONTAINER, "--", *command.argv)


class ClusterPlatform:
    """One driftloop release on a cluster: what the chart runs under `model`'s InferenceService in a namespace."""

    def __init__(self, address: ClusterAddress, model: str) -> None:
        self.address = address
        self.model = model
        self._pod: str | None = None

    def _get(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A read through kubectl; a missing kubectl or an unknown or silent cluster is a one-line error."""
        if shutil.which(self.address.kubectl) is None:
            raise DriftloopError(
                f"kubectl not found ({self.address.kubectl}): `make up` installs the pinned one into .venv/bin; "
                "or use --target local"
            )
        found = subprocess.run(self.address.argv(*args), capture_output=True, text=True, check=False)
        if found.returncode != 0:
            problem = explain_kubectl_failure(self.address, found.stderr)
            if problem:
                raise DriftloopError(problem)
        return found

    def predictor_pod(self) -> str:
        """The name of a predictor pod of the release (looked up once)."""
        if self._pod is None:
            selector = PREDICTOR_SELECTOR.format(model=self.model)
            found = self._get("get", "pod", "-l", selector, "-o", "jsonpath={.items[0].metadata.name}")
            if found.returncode != 0 or not found.stdout.strip():
                detail = found.stderr.strip().splitlines()[-1] if found.stderr.strip() else "none found"
                raise DriftloopError(
                    f"no predictor pod ({selector}) in namespace {self.address.namespace}: {detail}; is the release "
                    "installed and serving (`make cluster-status`), and does DRIFTLOOP_MODEL_NAME name its model?"
                )
            self._pod = found.stdout.strip()
        return self._pod

    def secret_value(self, secret: str, key: str) -> str:
        """A value of one of the release's Secrets (what a user reads with kubectl)."""
        found = self._get("get", "secret", secret, "-o", f"jsonpath={{.data.{key}}}")
        if found.returncode != 0 or not found.stdout.strip():
            raise DriftloopError(f"no {key} in Secret {secret}: {found.stderr.strip() or 'empty'}")
        return base64.b64decode(found.stdout.strip()).decode()

    def exec_argv(self, command: PodCommand) -> list[str]:
        return exec_argv(self.address, self.predictor_pod(), command)

    def stdin_header(self, secrets: tuple[FromSecret, ...]) -> bytes:
        """The secrets' values, one line each, read from the release's Secrets now."""
        return b"".join((self.secret_value(s.secret, s.key) + "\n").encode() for s in secrets)

    def run(self, command: PodCommand, capture: bool = False) -> subprocess.CompletedProcess[bytes]:
        """Run `command` in the pod: its secrets then its files on stdin, its exit code (kubectl relays it) back.
        Not captured, its output goes straight to this process's stdout and stderr as it comes, and its files are
        streamed; captured (the demo's small landings), they are read whole, so no pipe can fill and stall."""
        argv = self.exec_argv(command)
        header = self.stdin_header(command.secrets)
        logger.debug("in the cluster: %s", argv)
        if capture:
            given = header + b"".join(path.read_bytes() for path in command.uploads)
            return subprocess.run(argv, input=given, capture_output=True, check=False)
        with subprocess.Popen(argv, stdin=subprocess.PIPE) as process:
            try:
                _feed(cast("IO[bytes]", process.stdin), header, command)
            except BrokenPipeError:
                logger.debug("the pod's command stopped reading its stdin")  # its exit code says why
            returncode = process.wait()
        return subprocess.CompletedProcess(argv, returncode, b"", b"")


def _feed(stdin: IO[bytes], header: bytes, command: PodCommand) -> None:
    """Write the header then each upload, then close: a landing's files are streamed, not held in memory."""
    with stdin:
        stdin.write(header)
        for path in command.uploads:
            with path.open("rb") as source:
                shutil.copyfileobj(source, stdin, CHUNK)
