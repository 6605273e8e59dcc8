"""Evidently workspace: one project per model, one snapshot per drift check, for the Evidently UI."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def save_snapshot(workspace_path: Path, project_name: str, snapshot: Any, run_name: str) -> str:
    """Add the snapshot to the model's project (created on first use); returns the snapshot id."""
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(workspace_path))
    projects = workspace.search_project(project_name)
    project = projects[0] if projects else workspace.create_project(project_name, description="driftloop drift checks")
    reference = workspace.add_run(project.id, snapshot, name=run_name)
    logger.info("saved snapshot %s to Evidently project %s", reference.id, project_name)
    return str(reference.id)


def snapshot_count(workspace_path: Path, project_name: str) -> int:
    from evidently.ui.workspace import Workspace

    workspace = Workspace(str(workspace_path))
    projects = workspace.search_project(project_name)
    return len(workspace.list_runs(projects[0].id)) if projects else 0
