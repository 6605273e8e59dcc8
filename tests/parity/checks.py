"""Questions the parity run asks of real state: PostgreSQL's tables, Redis's keys, Prometheus's API, and the
chart's own claims (every DRIFTLOOP_* variable is a setting, every dashboard query has data)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from tests.parity.chart import REPO, RenderedChart
from tests.parity.image import dockerfile_environment
from tests.parity.pods import Pods
from tests.parity.upstream_images import postgres_program

DASHBOARD = REPO / "helm" / "driftloop" / "files" / "grafana-dashboard.json"


def unknown_settings(chart: RenderedChart) -> list[str]:
    """DRIFTLOOP_* variables our containers get that no setting reads: silently ignored on a real cluster."""
    from pipelines.core.settings import Settings

    known = {f"DRIFTLOOP_{name.upper()}" for name in Settings.model_fields}
    image = set(dockerfile_environment())
    found = []
    for container in chart.containers():
        if not container.image.split(":")[0].endswith("driftloop"):
            continue
        for name in container.env:
            if name.startswith("DRIFTLOOP_") and name not in known and name not in image:
                found.append(f"{container.workload}/{container.name}: {name}")
    return found


def psql(pods: Pods, database: str, query: str) -> list[list[str]]:
    """Rows of one query through the PostgreSQL pod's own socket (psql -tA)."""
    postgres = pods.table.chart.container("StatefulSet/driftloop-postgres", "postgres")
    sockets = pods.table.mount_dirs(postgres)["/var/run/postgresql"]
    command = [postgres_program("psql"), "-h", str(sockets), "-U", postgres.env["POSTGRES_USER"], "-d", database,
               "-tA", "-F", "\t",
               "-v", "ON_ERROR_STOP=1", "-c", query]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in output.splitlines() if line]


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        return json.loads(reply.read())


def prometheus_query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    reply = get_json(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert reply["status"] == "success", reply
    return list(reply["data"]["result"])


def panel_queries(dashboard: dict[str, Any]) -> dict[str, str]:
    """Each panel's query as Grafana would send it (no template variables are used)."""
    queries = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            queries[f"{panel['title']} [{target.get('refId', 'A')}]"] = target["expr"]
    return queries


def panels_without_data(prometheus: str, dashboard: dict[str, Any], timeout: float = 60) -> dict[str, str]:
    """Panels whose query still returns nothing after `timeout` (rates need two scrapes)."""
    waiting = panel_queries(dashboard)
    deadline = time.monotonic() + timeout
    while waiting and time.monotonic() < deadline:
        waiting = {title: expr for title, expr in waiting.items() if not prometheus_query(prometheus, expr)}
        if waiting:
            time.sleep(2)
    return waiting


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))
