"""Run the real `driftloop` CLI against an isolated state folder and free loopback ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


@dataclass
class PlatformUnderTest:
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [DRIFTLOOP, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def status(self) -> dict[str, Any]:
        result = self.run("local", "status", "--json")
        return {s["name"]: s for s in json.loads(result.stdout)["services"]}


PORT_SETTINGS = ("mlflow_port", "evidently_port", "predictor_port", "transformer_port", "monitor_port", "ray_port")


def free_ports() -> dict[str, int]:
    """A free loopback port for every service the local platform may run."""
    from tests.conftest import free_port

    return {name: free_port() for name in PORT_SETTINGS}


def isolated_env(state_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env["DRIFTLOOP_STATE_DIR"] = str(state_dir)
    for setting, port in ports.items():
        env[f"DRIFTLOOP_{setting.upper()}"] = str(port)
    return env
