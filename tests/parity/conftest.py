"""`make parity`: the chart's containers run as processes against real PostgreSQL, Redis, Prometheus and the
Pushgateway (Debian packages), brought up once per session; each test asserts on the state it left."""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import tool
from tests.parity.bring_up import (
    CRONJOBS,
    ParityRun,
    bring_up,
    send_traffic,
    start_kfp_api,
    wait_for_champion,
    wait_for_runs,
)
from tests.parity.chart import render
from tests.parity.cluster_map import ClusterMap
from tests.parity.pods import Pods

TRAFFIC_ROWS = 240
PROGRAMS = ("redis-server", "redis-cli", "prometheus", "prometheus-pushgateway", "prometheus-alertmanager")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "parity: the chart's containers executed on loopback against real backends")


def pytest_report_header(config: pytest.Config) -> str:
    """Which interpreter runs the chart's containers and tasks: the image-equivalent environment, not .venv."""
    from tests.image_env import run_as_image_user
    from tests.parity.image import image

    user = run_as_image_user()
    return f"parity: containers and KFP tasks run {image().python} as uid {user[0] if user else os.geteuid()}"


def require_programs() -> None:
    missing = [name for name in PROGRAMS if shutil.which(name) is None]
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        missing.append("postgresql")
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)} (platform/driftloop/cluster/scripts/ci-tools.sh)")


def new_run(root: Path, chart_dir: Path | None = None, network: str = "127.77.0.0/24") -> ParityRun:
    from driftloop.cluster.upstream import PINS

    helm = tool("helm")
    chart = render(helm) if chart_dir is None else render(helm, chart=chart_dir)
    table = ClusterMap.build(chart, PINS.kfp_namespace, root, network)
    return ParityRun(chart, table, Pods(table, root / "logs"), PINS.kfp_namespace)


def run_folder() -> Path:
    """Under /tmp, readable by PostgreSQL's own user when the suite runs as root (pytest's tmp is 0700)."""
    root = Path(tempfile.mkdtemp(prefix="driftloop-parity-"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def parity() -> Iterator[ParityRun]:
    require_programs()
    root = run_folder()
    run = new_run(root)
    failed = True
    try:
        with start_kfp_api(run, root / "logs"):
            bring_up(run)
            drift = run.chart.container("CronJob/driftloop-drift", "drift")
            # What `make pipeline` asks for: the compiled IR submitted to the KFP API, run by the tasks' config.
            submit = dataclasses.replace(drift, workload="harness", args=["pipeline", "submit", "--trigger", "parity"])
            run.pods.run(submit, timeout=120)
            (first,) = wait_for_runs(run, 1)
            if first["state"] != "SUCCEEDED":
                log = (root / "logs" / "kfp-run-1.log").read_text(errors="replace")
                raise AssertionError(f"the training run ended {first['state']}:\n{log[-3000:]}")
            wait_for_champion(run)
            send_traffic(run, TRAFFIC_ROWS)
            for cronjob in CRONJOBS:
                run.run_job(cronjob)
            # A drift trigger submits a retraining run to the KFP API: let it finish before asserting.
            wait_for_runs(run, len(run.kfp.runs) if run.kfp else 1)
            failed = False
            yield run
    finally:
        run.pods.stop_all()
        if failed or os.environ.get("DRIFTLOOP_PARITY_KEEP"):
            print(f"\nparity run folder (logs, volumes): {root}\n{run.table.describe()}")
        else:
            shutil.rmtree(root, ignore_errors=True)
