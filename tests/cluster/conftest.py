"""Static checks of cluster mode: no cluster needed, only the pinned helm and promtool binaries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "driftloop"
VALUE_FILES = {"default": None, "ci": CHART / "values-ci.yaml"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: static checks of the Helm chart and cluster assets")


def tool(name: str) -> str:
    found = Path(sys.executable).with_name(name)
    path = str(found) if found.exists() else shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (platform/driftloop/cluster/scripts/ci-tools.sh installs it)")
    return str(path)


def render(values: Path | None, *extra: str) -> list[dict[str, Any]]:
    from driftloop.cluster.upstream import PINS

    command = [tool("helm"), "template", "driftloop", str(CHART), "--namespace", PINS.kfp_namespace, *extra]
    if values:
        command += ["-f", str(values)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


@pytest.fixture(scope="session", params=sorted(VALUE_FILES))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(VALUE_FILES[request.param])
