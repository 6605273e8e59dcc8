"""Reading the Evidently UI's dashboard the way its page does (the UI's own HTTP API)."""

from __future__ import annotations

from typing import Any

import httpx

PROJECT = "fraud-detector drift"


def project_id_of(ui: str, project: str = PROJECT) -> str:
    projects = httpx.get(f"{ui}/api/v2/projects", timeout=10).json()
    return str(next(p["id"] for p in projects if p["name"] == project))


def panel_points(ui: str, project_id: str, panel: dict[str, Any]) -> int:
    """Non-empty values the UI gets for a panel (the same request its page makes)."""
    filters = [
        {"tags": v["tags"], "metadata": v["metadata"], "metric": v["metric"], "metric_labels": v["metric_labels"]}
        for v in panel["values"]
    ]
    response = httpx.post(
        f"{ui}/api/v2/snapshots/{project_id}/data_series_batch", json={"series_filter": filters}, timeout=30
    )
    response.raise_for_status()
    return sum(value is not None for series in response.json()["series"] for value in series["values"])


def plot_panels(ui: str, project_id: str) -> list[dict[str, Any]]:
    dashboard = httpx.get(f"{ui}/api/v2/dashboards/{project_id}", timeout=10).json()
    return [panel for panel in dashboard["panels"] if panel["plot_params"].get("plot_type") != "text"]
