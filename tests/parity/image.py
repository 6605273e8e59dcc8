"""The driftloop image without a container engine: this checkout's venv is the image's Python environment and
the Dockerfile's ENV lines are its environment; ENTRYPOINT is `driftloop`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.parity.chart import REPO

VENV_BIN = Path(sys.executable).parent


def dockerfile_environment(dockerfile: Path = REPO / "Dockerfile") -> dict[str, str]:
    """The ENV the image sets, with ARG DRIFTLOOP_CODE_VERSION as `make up` passes it (the commit)."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    env: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("ENV "):
            continue
        for name, value in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=(\S+)", line[4:]):
            env[name] = value
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    env["DRIFTLOOP_CODE_VERSION"] = commit or "unknown"
    return env


def entrypoint(image: str) -> list[str]:
    if not image.split(":")[0].endswith("driftloop"):
        raise ValueError(f"{image} is not the driftloop image")
    return [str(VENV_BIN / "driftloop")]


def base_path() -> str:
    """The image's PATH: its Python first (here the venv), then the system's (for pg_isready, redis-cli)."""
    return f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin"
