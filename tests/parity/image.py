"""The driftloop image without a container engine: the image-equivalent environment (tests/image_env.py: the
Dockerfile's own install recipe, the wheel installed non-editable, outside the checkout) is the image's Python
environment, the Dockerfile's ENV lines are its environment, USER is the user its processes run as, and
ENTRYPOINT is `driftloop`."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

from tests.image_env import DOCKERFILE, ImageEnvironment, image_environment
from tests.parity.chart import REPO


@cache
def image() -> ImageEnvironment:
    return image_environment()


def dockerfile_environment(dockerfile: Path = DOCKERFILE) -> dict[str, str]:
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


def entrypoint(image_name: str) -> list[str]:
    if not image_name.split(":")[0].endswith("driftloop"):
        raise ValueError(f"{image_name} is not the driftloop image")
    return [str(image().driftloop)]


def base_path() -> str:
    """The image's PATH: its Python first (the image-equivalent environment), then the system's (for
    pg_isready, redis-cli)."""
    return f"{image().bin}:/usr/local/bin:/usr/bin:/bin"
