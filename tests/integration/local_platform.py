"""Run the real `driftloop` CLI against an isolated state folder and free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


@dataclass
class PlatformUnderTest:
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DRIFTLOOP, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def headers(self, scope: str) -> dict[str, str]:
        """What a client holding the platform's `scope` token sends (the token `driftloop auth token` prints)."""
        token = (self.state_dir / "credentials" / scope).read_text().strip()
        return {"authorization": f"Bearer {token}"}

    def registry(self, user: str = "admin") -> Any:
        """An MLflow client of the platform's server logged in as `user` (the login `driftloop auth mlflow`
        prints), carried in the URL so that two platforms in one test process never share MLflow's
        process-wide login variables."""
        from pipelines.registry.tracking import tracking_client
        from pipelines.registry.users import MlflowUser

        password = (self.state_dir / "credentials" / MlflowUser(user).password_file).read_text().strip()
        return tracking_client(f"http://{user}:{password}@127.0.0.1:{self.env['DRIFTLOOP_MLFLOW_PORT']}")

    def status(self) -> dict[str, Any]:
        result = self.run("local", "status", "--json")
        return {s["name"]: s for s in json.loads(result.stdout)["services"]}


PORT_SETTINGS = (
    "mlflow_port",
    "evidently_port",
    "predictor_port",
    "transformer_port",
    "monitor_port",
    "ray_port",
    "stream_port",
)


def free_ports() -> dict[str, int]:
    """A distinct free loopback port for every service the local platform may run: every socket stays bound until
    all are chosen (one at a time, the kernel handed the same port to two settings once: the Ray head's and the
    endpoint's)."""
    import socket

    sockets = [socket.socket() for _ in PORT_SETTINGS]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return {name: int(sock.getsockname()[1]) for name, sock in zip(PORT_SETTINGS, sockets, strict=True)}
    finally:
        for sock in sockets:
            sock.close()


def isolated_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRIFTLOOP_", "MLFLOW_TRACKING_", "_DRIFTLOOP_"))}
    env["DRIFTLOOP_STATE_DIR"] = str(state_dir)
    for setting, port in ports.items():
        env[f"DRIFTLOOP_{setting.upper()}"] = str(port)
    return env


def stream_caught_up(platform: PlatformUnderTest, timeout_s: float = 30.0) -> None:
    """Wait until the stream worker has acknowledged every record (answers reach the stream within a commit
    interval of the prediction log, then the worker pushes them)."""
    time.sleep(0.5)  # what was just answered is committed and published by then
    deadline = time.monotonic() + timeout_s
    while True:
        result = platform.run("features", "status")
        assert result.returncode == 0, result.stderr
        if json.loads(result.stdout).get("stream_backlog", 0) == 0:  # 0 too when the use case streams nothing
            return
        assert time.monotonic() < deadline, result.stdout
        time.sleep(0.5)


def server_url(platform: PlatformUnderTest, server: str) -> str:
    """The local platform's `transformer` or `predictor` on loopback. `transformer` is the inference endpoint's
    port in either serving topology (the in-process predictor listens there by default)."""
    return f"http://127.0.0.1:{platform.env[f'DRIFTLOOP_{server.upper()}_PORT']}"


def _spawn_server(
    platform: PlatformUnderTest, tmp_path: Path, server: str, args: list[str], model: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """`driftloop serve <server>` on a free port, logging into `tmp_path`, once its model reports ready."""
    from tests.conftest import free_port

    port = free_port()
    log_path = tmp_path / f"{server}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [DRIFTLOOP, "serve", server, *args, "--port", str(port)], env={**platform.env, **env}, stdout=log,
            stderr=log,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v2/models/{model}/ready").status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        assert process.poll() is None, log_path.read_text()[-2000:]
        time.sleep(0.5)
    process.kill()
    raise AssertionError(f"the {server} never became ready: {log_path.read_text()[-2000:]}")


def spawn_predictor(
    platform: PlatformUnderTest,
    tmp_path: Path,
    with_features: bool = True,
    model: str = "fraud-detector",
    **settings: str,
) -> tuple[subprocess.Popen[bytes], str]:
    """A predictor of its own over the platform's registry and credentials, logging into `tmp_path`, and
    streaming its answers there too: the platform's stream carries only what the platform's event store holds
    (the stream worker's online rows must equal the replay of that store)."""
    env = {
        "DRIFTLOOP_PREDICTION_LOG_DIR": str(tmp_path / "predictions"),
        "DRIFTLOOP_STREAM_URL": f"sqlite:///{tmp_path / 'stream.db'}",
        **settings,
    }
    return _spawn_server(platform, tmp_path, "predictor", ["--with-features"] if with_features else [], model, env)


def spawn_transformer(
    platform: PlatformUnderTest, tmp_path: Path, model: str = "fraud-detector", **settings: str
) -> tuple[subprocess.Popen[bytes], str]:
    """A transformer of its own in front of the platform's predictor, with its own settings (an online store)."""
    return _spawn_server(platform, tmp_path, "transformer", [], model, settings)
