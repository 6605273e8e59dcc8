"""Containers as processes: each gets the rendered command, args and environment (through the one table in
cluster_map), its own log file, and is ready when its rendered readiness probe passes."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.image_env import image_user, user_options
from tests.parity import upstream_images
from tests.parity.chart import ChartFinding, Container
from tests.parity.cluster_map import ClusterMap
from tests.parity.image import base_path, dockerfile_environment, entrypoint


def expand(value: str, env: dict[str, str]) -> str:
    """The kubelet's `$(NAME)` expansion in command and args: a defined variable's value, `$$` for a literal
    `$`, an undefined reference left as written."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        value,
    )


def give_to(user: tuple[int, int], folders: list[Path]) -> None:
    """What Kubernetes's fsGroup does for a pod's volumes: the pod's user can write them."""
    for folder in folders:
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, *user)


@dataclass
class Process:
    container: Container
    popen: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str]  # as started: exec probes run in the same environment

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Pods:
    def __init__(self, table: ClusterMap, logs: Path) -> None:
        self.table = table
        self.logs = logs
        self.image_env = dockerfile_environment()
        self.running: list[Process] = []
        logs.mkdir(parents=True, exist_ok=True)

    def launch_spec(
        self, container: Container, appended_args: list[str] | None = None
    ) -> tuple[list[str], dict[str, str], Path]:
        """argv, environment and working folder of one container, as the kubelet would start it here."""
        mounted = self.table.materialise_mounts(container)
        pod = container.workload
        tmp = mounted.get("/tmp") or self.table.root / "pods" / pod.replace("/", "_") / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {"PATH": base_path(), "LANG": "C.UTF-8", "TMPDIR": str(tmp)}
        ours = container.image.split(":")[0].endswith("driftloop")
        if ours:
            env.update(self.image_env)
        env.update(container.env)
        env = {name: self.table.rewrite(value, mounted, pod) for name, value in env.items()}
        args = [expand(arg, env) for arg in [*container.args, *(appended_args or [])]]
        args = [self.table.rewrite(arg, mounted, pod) for arg in args]
        if ours:
            argv = [*([expand(part, env) for part in container.command] or entrypoint(container.image)), *args]
            workdir = self.table.root / "pods" / pod.replace("/", "_") / "workdir"
        else:
            argv, workdir = upstream_images.program(container, args, self.table.pod_addresses[pod], mounted, env)
        workdir.mkdir(parents=True, exist_ok=True)
        if ours and (user := self.image_user(container)):
            volumes = (
                mounted[path] for path, v in container.mounts.items() if v.kind in ("persistentVolumeClaim", "emptyDir")
            )
            writable = [tmp, workdir, *volumes]
            give_to(user, writable)
        return argv, env, workdir

    @staticmethod
    def image_user(container: Container) -> tuple[int, int] | None:
        """Our containers run as their rendered user (else the image's USER) when the harness is root; as the
        harness's own non-root user otherwise."""
        if os.geteuid() != 0:
            return None
        return container.run_as or image_user()

    def start(self, container: Container, appended_args: list[str] | None = None) -> Process:
        argv, env, workdir = self.launch_spec(container, appended_args)
        log = self.logs / f"{container.workload.replace('/', '_')}_{container.name}.log"
        handle = log.open("ab")
        ours = container.image.split(":")[0].endswith("driftloop")
        user = user_options(self.image_user(container)) if ours else {"user": upstream_images.run_as(container)}
        popen = subprocess.Popen(argv, env=env, cwd=workdir, stdout=handle, stderr=subprocess.STDOUT,
                                 start_new_session=True, **user)  # type: ignore[call-overload]  # fmt: skip
        handle.close()  # the child holds its own descriptor
        process = Process(container, popen, log, env)
        self.running.append(process)
        return process

    def run(self, container: Container, timeout: float, appended_args: list[str] | None = None) -> Process:
        """A Job's container: run it to the end; a non-zero exit is a failure with the log's tail."""
        process = self.start(container, appended_args)
        try:
            code = process.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(process)
            raise AssertionError(
                f"{container.workload}/{container.name} ran over {timeout:.0f} s:\n{process.tail()}"
            ) from None
        if code != 0:
            raise AssertionError(f"{container.workload}/{container.name} exited {code}:\n{process.tail()}")
        return process

    def wait_ready(self, process: Process, timeout: float = 180, live_only: bool = False) -> None:
        """Poll the container's rendered readiness probe (its liveness probe with `live_only`: up, though not
        ready to serve yet); fail early when the process has exited."""
        container = process.container
        probe = container.liveness if live_only else container.readiness
        if probe is None:
            kind = "livenessProbe" if live_only else "readinessProbe"
            raise ChartFinding(f"{container.workload}/{container.name} has no {kind}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.popen.poll() is not None:
                raise AssertionError(
                    f"{container.workload}/{container.name} exited {process.popen.returncode} before it was ready:\n"
                    f"{process.tail()}"
                )
            if self._probe(process, probe):
                return
            time.sleep(0.5)
        raise AssertionError(
            f"{container.workload}/{container.name} not ready after {timeout:.0f} s:\n{process.tail()}"
        )

    def _probe(self, process: Process, probe: dict[str, object]) -> bool:
        container = process.container
        address = self.table.pod_addresses[container.workload]
        if "httpGet" in probe:
            get = probe["httpGet"]
            assert isinstance(get, dict)
            port = get["port"]
            port_number = container.ports[port] if isinstance(port, str) else int(port)
            try:
                with urllib.request.urlopen(
                    f"http://{address}:{port_number}{get.get('path', '/')}", timeout=2
                ) as reply:
                    return 200 <= reply.status < 400
            except OSError:
                return False
        if "exec" in probe:
            command = probe["exec"]
            assert isinstance(command, dict)
            probe_argv, probe_env = upstream_images.probe_command(container, self.table, list(command["command"]))
            program = shutil.which(probe_argv[0], path=process.env["PATH"])
            if program is None:
                raise ChartFinding(f"{container.workload}: probe program {probe_argv[0]} is not installed")
            env = {**process.env, **probe_env}
            done = subprocess.run([program, *probe_argv[1:]], env=env, capture_output=True, timeout=10)
            return done.returncode == 0
        if "tcpSocket" in probe:
            import socket

            try:
                socket.create_connection((address, int(probe["tcpSocket"]["port"])), timeout=2).close()  # type: ignore[index]
                return True
            except OSError:
                return False
        raise ChartFinding(f"{container.workload}: a probe the harness does not know: {probe}")

    def stop(self, process: Process) -> None:
        if process.popen.poll() is None:
            try:
                os.killpg(process.popen.pid, signal.SIGTERM)
                process.popen.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.popen.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for process in reversed(self.running):
            self.stop(process)
