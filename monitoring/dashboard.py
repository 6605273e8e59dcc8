"""The drift project's dashboard in the Evidently UI: panels over the snapshots the monitor saves.

Three kinds of snapshot feed it, told apart by tags: each drift check (`drift` + the version, `vN`), the
skew check beside it (`skew`), and the realised-quality job (`quality` + the version). Series are read
from the metrics those snapshots hold, so every panel shows what the checks measured, nothing computed here.

`ensure_dashboard` is idempotent: it rebuilds the panels only when the wanted set differs from what the
project has (a new model version adds its panel; a new `PANEL_SET` revision replaces the old panels).
Evidently matches a series to the first filter with its metric type, so each model version gets its own
panel rather than one series per version in a shared one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.core.use_case import UseCase
from pipelines.data.prediction_log_format import PREDICTION

logger = logging.getLogger(__name__)

PANEL_SET = "driftloop-panels-2"  # bump when the panels below change: existing projects are rebuilt
DRIFT_TAG, SKEW_TAG, QUALITY_TAG = "drift", "skew", "quality"
SKEW_COLUMN = "served_differs"  # the skew snapshot's column: 1 where the served vector differed
VERSION_PANEL_TITLE = "Model version {version}: mean score and realised quality"
VERSION_PANEL = re.compile(r"^Model version (\S+): mean score")
# The Evidently metric each kind of target's realised-quality snapshot holds (monitoring.workspace).
QUALITY_METRICS = {"binary": "RocAuc", "regression": "MAE"}


@dataclass(frozen=True)
class DashboardPlan:
    """What the panels show for one use case: its monitored columns, its score, its realised-quality metric."""

    columns: tuple[str, ...]  # the model input columns whose drift scores are drawn
    score_name: str
    quality_metric: str  # Evidently's metric type in the quality snapshots
    quality_legend: str

    @classmethod
    def of(cls, use_case: UseCase) -> DashboardPlan:
        metric = use_case.metric
        legend = f"realised {metric.primary.replace('_', ' ').upper()}"
        return cls(use_case.model_input.columns, use_case.model.score_name, QUALITY_METRICS[metric.evidently], legend)


def version_tag(version: str) -> str:
    return f"v{version}"


def _drifted_columns_panel(title: str, legend: str, value_type: str, description: str | None = None) -> Any:
    """A line over the drift checks of Evidently's DriftedColumnsCount (its `share` or its `count`)."""
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import line_plot_panel

    metric = PanelMetric(
        legend=legend, metric="DriftedColumnsCount", metric_labels={"value_type": value_type}, tags=[DRIFT_TAG]
    )
    return line_plot_panel(title=title, description=description, values=[metric], size="half")


def _panels(drift_threshold: float, versions: Sequence[str], plan: DashboardPlan) -> list[Any]:
    from evidently.sdk.models import PanelMetric
    from evidently.sdk.panels import bar_plot_panel, line_plot_panel, text_panel

    drift = [DRIFT_TAG]
    panels = [
        text_panel(title=f"Drift checks of the served champion ({PANEL_SET})"),
        _drifted_columns_panel(
            "Drift share per check",
            "drift share",
            "share",
            f"share of monitored columns that drifted; retraining at >= {drift_threshold:.2f}",
        ),
        _drifted_columns_panel("Drifted columns per check", "drifted columns", "count"),
        bar_plot_panel(
            title="Rows analysed per window",
            values=[PanelMetric(legend="rows", metric="RowCount", tags=drift)],
            size="half",
        ),
        line_plot_panel(
            title="Training/serving skew share",
            description="served transactions whose features differ from the offline point-in-time ones",
            values=[
                PanelMetric(
                    legend="skew share", metric="MeanValue", metric_labels={"column": SKEW_COLUMN}, tags=[SKEW_TAG]
                )
            ],
            size="half",
        ),
        line_plot_panel(
            title="Drift score per feature",
            description="per-column test statistic (Wasserstein distance for numbers, Jensen-Shannon for categories)",
            values=[
                PanelMetric(legend=column, metric="ValueDrift", metric_labels={"column": column}, tags=drift)
                for column in (*plan.columns, PREDICTION)
            ],
            size="full",
        ),
    ]
    for version in versions:
        tag = version_tag(version)
        panels.append(
            line_plot_panel(
                title=VERSION_PANEL_TITLE.format(version=version),
                description="mean score per drift check; the realised metric of its served answers once their "
                "labels arrived",
                values=[
                    PanelMetric(
                        legend=f"mean {plan.score_name}", metric="MeanValue", metric_labels={"column": PREDICTION},
                        tags=[DRIFT_TAG, tag],
                    ),
                    PanelMetric(legend=plan.quality_legend, metric=plan.quality_metric, tags=[QUALITY_TAG, tag]),
                ],
                size="half",
            )
        )  # fmt: skip
    return panels


def shown_versions(dashboard: Any) -> set[str]:
    """The model versions the dashboard has a panel for (read back from the panels' titles)."""
    return {found.group(1) for panel in dashboard.panels if (found := VERSION_PANEL.match(panel.title))}


def ensure_dashboard(
    workspace: Any, project_id: Any, drift_threshold: float, version: str | None, plan: DashboardPlan
) -> bool:
    """Give the project the wanted panels (one tab, a panel per version seen), replacing what it had; True when
    it had to change them."""
    from evidently.sdk.models import DashboardModel, DashboardTabModel

    current = workspace.get_project(project_id).dashboard.model()
    versions = shown_versions(current) | ({version} if version else set())
    ordered = sorted(versions, key=lambda v: (len(v), v))  # numeric versions in numeric order
    wanted = _panels(drift_threshold, ordered, plan)
    if [panel.title for panel in current.panels] == [panel.title for panel in wanted]:
        return False
    tab = DashboardTabModel(title="Drift", panels=[panel.id for panel in wanted])
    workspace.save_dashboard(project_id, DashboardModel(tabs=[tab], panels=wanted))
    logger.info("Evidently dashboard: %d panels for versions %s", len(wanted), ordered)
    return True
