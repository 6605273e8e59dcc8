"""Evidently workspace: one project per model; drift, skew and realised-quality snapshots; its dashboard.

Every save keeps the project's dashboard in step (`monitoring.dashboard`), so the Evidently UI opens on
panels with data rather than an empty page.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitoring.dashboard import QUALITY_TAG, SKEW_COLUMN, SKEW_TAG, DashboardPlan, ensure_dashboard, version_tag
from pipelines.core.settings import Settings

logger = logging.getLogger(__name__)


def project_name(settings: Settings) -> str:
    """The model's Evidently project (drift, skew and quality snapshots, and the dashboard over them)."""
    return f"{settings.model_name} drift"


def naive_utc(moment: pd.Timestamp) -> datetime:
    """Snapshot times as the Evidently UI compares them (naive; ours are all UTC)."""
    return moment.tz_convert("UTC").tz_localize(None).to_pydatetime()


def open_workspace(path: Path) -> Any:
    """Evidently's local workspace for snapshots and dashboards, without its dataset manager.

    `Workspace(path)` builds a dataset manager whose project manager parses every snapshot of every project
    at construction: a check paid for the whole history at each save (0.7 s with twenty snapshots, growing
    with every check). Projects, snapshots and dashboards are read and written through the workspace's file
    state alone; runs are added without their data, so the dataset manager is never used here.
    """
    return _snapshot_workspace_class()(str(path))


def write_json_whole(path: Path, document: Any, encoder: type[json.JSONEncoder], indent: int | None = None) -> None:
    """The document written to a temporary file beside `path`, then renamed over it: a reader (the Evidently
    UI, the next save) sees the old file or the new one, never a file cut short by a killed check."""
    text = json.dumps(document, cls=encoder, indent=indent)  # before any file: a failed encoding writes nothing
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


@functools.cache
def _snapshot_workspace_class() -> type:
    from evidently.legacy.utils import NumpyEncoder
    from evidently.ui.storage.local.base import LocalState
    from evidently.ui.workspace import Workspace

    class WholeFileState(LocalState):
        """Evidently's file state whose writes are whole files (`write_json_whole`). Evidently's own `json.dump`
        into the open file is not atomic, and Python's pure encoder that `dump` uses made the save of a drift
        snapshot (1.25 MB) take 0.2 s; one `dumps` goes through the C encoder."""

        def file(self, relative: str) -> Path:
            return Path(self.path) / relative

        def write_project(self, project: Any) -> Any:
            self.location.makedirs(str(project.id))
            write_json_whole(self.file(self._project_path(project.id)), project.dict(), NumpyEncoder, indent=2)
            return project

        def write_snapshot(self, project_id: Any, snapshot_id: Any, snapshot: Any) -> None:
            self.location.makedirs(self._snapshot_dir(project_id))
            write_json_whole(self.file(self._snapshot_path(project_id, snapshot_id)), snapshot.dict(), NumpyEncoder)

        def write_dashboard(self, project_id: Any, dashboard: Any) -> None:
            write_json_whole(self.file(self._dashboard_path(project_id)), dashboard.dict(), NumpyEncoder)

    class SnapshotWorkspace(Workspace):
        """Evidently's local workspace over its file state only (see `open_workspace`)."""

        def __init__(self, root: str) -> None:  # Workspace's own, minus the dataset and artifact managers
            self.path = root
            self.state = WholeFileState(root)

    return SnapshotWorkspace


def _project_id(workspace: Any, project_name: str) -> Any:
    projects = workspace.search_project(project_name)
    project = projects[0] if projects else workspace.create_project(project_name, description="driftloop drift checks")
    return project.id


def save_snapshot(
    workspace_path: Path, project_name: str, snapshot: Any, run_name: str, drift_threshold: float,
    version: str | None = None, *, plan: DashboardPlan,
) -> str:  # fmt: skip
    """Add the snapshot to the model's project (created on first use) and keep its dashboard in step; returns
    the snapshot id."""
    workspace = open_workspace(workspace_path)
    project_id = _project_id(workspace, project_name)
    reference = workspace.add_run(project_id, snapshot, name=run_name)
    ensure_dashboard(workspace, project_id, drift_threshold, version, plan)
    logger.info("saved snapshot %s to Evidently project %s", reference.id, project_name)
    return str(reference.id)


def skew_snapshot(compared: int, mismatched: int, metadata: dict[str, str]) -> Any:
    """The skew check as an Evidently snapshot: one row per compared transaction, 1 where the served feature
    vector differed, so the share is Evidently's own mean of that column."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MeanValue, RowCount

    flags = pd.DataFrame({SKEW_COLUMN: np.r_[np.ones(mismatched), np.zeros(compared - mismatched)]})
    dataset = Dataset.from_pandas(flags, data_definition=DataDefinition(numerical_columns=[SKEW_COLUMN]))
    report = Report([MeanValue(column=SKEW_COLUMN), RowCount()], metadata=metadata, tags=[SKEW_TAG])
    return report.run(dataset, timestamp=naive_utc(pd.Timestamp.now(tz="UTC")))


def quality_snapshot(
    version: str, scores: pd.Series, labels: pd.Series, hour: pd.Timestamp, kind: str = "binary"
) -> Any:
    """Realised quality of one version's answers in one hour, as Evidently computes it: a classifier's ROC AUC
    (`kind` "binary") or a regression's MAE, and the rows."""
    from evidently import BinaryClassification, DataDefinition, Dataset, Regression, Report
    from evidently.metrics import MAE, RocAuc, RowCount

    if kind == "binary":
        frame = pd.DataFrame({"target": labels.to_numpy(dtype=int), "prediction": scores.to_numpy(dtype=float)})
        definition = DataDefinition(
            classification=[BinaryClassification(target="target", prediction_probas="prediction")],
            numerical_columns=["prediction"],
            categorical_columns=["target"],
        )
        judged: Any = RocAuc()
    else:
        frame = pd.DataFrame({"target": labels.to_numpy(dtype=float), "prediction": scores.to_numpy(dtype=float)})
        definition = DataDefinition(
            regression=[Regression(target="target", prediction="prediction")],
            numerical_columns=["target", "prediction"],
        )
        judged = MAE()
    report = Report([judged, RowCount()], tags=[QUALITY_TAG, version_tag(version)])
    return report.run(Dataset.from_pandas(frame, data_definition=definition), timestamp=naive_utc(hour))


def snapshot_count(workspace_path: Path, project_name: str) -> int:
    workspace = open_workspace(workspace_path)
    projects = workspace.search_project(project_name)
    return len(workspace.list_runs(projects[0].id)) if projects else 0


def delete_snapshot(workspace_path: Path, project_name: str, snapshot_id: str) -> None:
    """Remove a snapshot this platform saved (a realised-quality hour replaced by a fuller one)."""
    workspace = open_workspace(workspace_path)
    projects = workspace.search_project(project_name)
    if projects:
        workspace.delete_run(projects[0].id, snapshot_id)
