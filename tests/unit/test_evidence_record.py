"""The gate's evidence through a real MLflow store (SQLite, no server): what evaluate logs, the gate step reads
back the same, the version keeps as tags, and `monitor status` lists, an undefined interval included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from driftloop.cli.monitor_commands import _evidence_line
from pipelines.registry.names import RunTag, VersionTag
from pipelines.registry.tracking import gate_decisions, tracking_client
from pipelines.training.evidence import Improvement
from pipelines.training.evidence_record import from_run, run_record, version_tags

MEASURED = Improvement("precision_at_budget", 0.46, 0.40, 0.06, 0.02, 0.10, 0.9, 143, 3000, 1000)
UNDEFINED = Improvement(
    "roc_auc", 0.9, 0.8, 0.1, math.nan, math.nan, 0.9, 3, 40, 1000, "roc_auc is undefined on 5 of 1000 resamples"
)


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, dict[str, str]]:
    """Three training runs as the pipeline leaves them: one measured, one undefined, a first model without."""
    folder: Path = tmp_path_factory.mktemp("evidence")
    client = tracking_client(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = client.create_experiment("training", artifact_location=str(folder / "artifacts"))
    runs = {}
    for name, improvement in (("first", None), ("undefined", UNDEFINED), ("measured", MEASURED)):
        run_id = client.create_run(experiment).info.run_id
        if improvement is not None:
            metrics, tags = run_record(improvement)
            for key, value in metrics.items():
                client.log_metric(run_id, key, value)
            for key, text in tags.items():
                client.set_tag(run_id, key, text)
        client.set_tag(run_id, RunTag.GATE_DECISION, "reject")
        runs[name] = run_id
    return client, runs


def test_the_gate_step_reads_back_what_evaluate_logged(logged: tuple[object, dict[str, str]]) -> None:
    client, runs = logged
    measured = client.get_run(runs["measured"]).data  # type: ignore[attr-defined]
    assert from_run(measured.metrics, measured.tags) == MEASURED
    undefined = client.get_run(runs["undefined"]).data  # type: ignore[attr-defined]
    read = from_run(undefined.metrics, undefined.tags)
    assert read is not None and read.undefined == UNDEFINED.undefined and math.isnan(read.low)
    first = client.get_run(runs["first"]).data  # type: ignore[attr-defined]
    assert from_run(first.metrics, first.tags) is None


def test_the_version_keeps_the_metric_the_interval_and_the_positives() -> None:
    assert version_tags(MEASURED) == {
        VersionTag.EVIDENCE_METRIC: "precision_at_budget",
        VersionTag.IMPROVEMENT: "+0.0600",
        VersionTag.IMPROVEMENT_CI: "[+0.0200, +0.1000]",
        VersionTag.EVIDENCE_CONFIDENCE: "0.9",
        VersionTag.EVIDENCE_POSITIVES: "143",
    }
    regression = Improvement("mae", 4.2, 4.5, 0.3, 0.1, 0.5, 0.9, None, 2400, 1000)
    assert VersionTag.EVIDENCE_POSITIVES not in version_tags(regression)


def test_monitor_status_lists_each_runs_evidence(logged: tuple[object, dict[str, str]]) -> None:
    client, runs = logged
    listed = {gate["run_id"]: gate for gate in gate_decisions(client, "training", 3)}  # type: ignore[arg-type]
    measured, undefined, first = (listed[runs[name]] for name in ("measured", "undefined", "first"))
    assert measured["evidence"] == {
        "metric": "precision_at_budget",
        "improvement": pytest.approx(0.06),
        "low": pytest.approx(0.02),
        "high": pytest.approx(0.10),
        "confidence": pytest.approx(0.9),
        "positives": 143,
        "rows": 3000,
        "undefined": "",
    }
    assert _evidence_line(measured["evidence"]) == (
        "precision_at_budget +0.0600 [90% CI +0.0200, +0.1000] over 143 positives"
    )
    assert undefined["evidence"]["low"] is None
    json.dumps(undefined, allow_nan=False)  # `monitor status --json` stays JSON: an undefined bound is null
    assert _evidence_line(undefined["evidence"]) == (
        "roc_auc no interval: roc_auc is undefined on 5 of 1000 resamples (3 positives)"
    )
    assert first["evidence"] is None
