"""Realised quality from late labels, and the prediction log's partitioning and final flush."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitoring.quality import export_realised_quality, realised_quality
from pipelines.core.layout import Layout
from pipelines.core.use_case import UseCase
from pipelines.data.prediction_log_format import read_prediction_log
from serving.prediction_log import PredictionLog
from use_cases.delivery import USE_CASE as DELIVERY
from use_cases.fraud import USE_CASE as FRAUD


def _rows(n: int, hour: str, version: str, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"{hour}-{i}" for i in range(n)],
            "prediction": rng.random(n),
            "model_version": version,
            "role": "served",
            "logged_at": pd.Timestamp(hour, tz="UTC") + pd.to_timedelta(rng.integers(0, 3600, n), unit="s"),
        }
    )


def test_log_partitions_by_hour_and_close_flushes_everything(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    log = PredictionLog(tmp_path, flush_s=3600).start()  # no timed flush during the test
    log.append(_rows(10, "2026-11-24 10:00", "1", rng))
    log.append(_rows(5, "2026-11-24 11:00", "1", rng))
    log.close()
    assert sorted(p.parent.name for p in tmp_path.rglob("part-*.parquet")) == ["hour=10", "hour=11"]
    assert len(read_prediction_log(tmp_path)) == 15
    assert len(read_prediction_log(tmp_path, since=pd.Timestamp("2026-11-24 11:00", tz="UTC"))) == 5
    log.close()  # idempotent
    assert not list(tmp_path.rglob("*.tmp"))


def test_realised_quality_joins_labels_per_version_and_hour() -> None:
    rng = np.random.default_rng(1)
    log = pd.concat([_rows(200, "2026-11-24 10:00", "1", rng), _rows(200, "2026-11-24 11:00", "2", rng)])
    labels = pd.DataFrame({"event_id": log["event_id"], "is_fraud": (log["prediction"] > 0.8).astype(int)})
    quality = realised_quality(log, labels.iloc[:300], FRAUD)  # the newest labels have not arrived
    assert list(quality["model_version"]) == ["1", "2"]
    assert list(quality["rows"]) == [200, 100]
    assert (quality["roc_auc"] == 1.0).all()
    assert realised_quality(log.drop(columns="event_id"), labels, FRAUD).empty


def test_realised_quality_of_a_regression_is_its_mae_once_an_hour_has_enough_rows() -> None:
    rng = np.random.default_rng(2)
    log = pd.concat([_rows(30, "2026-11-24 10:00", "1", rng), _rows(10, "2026-11-24 11:00", "1", rng)])
    minutes = log["prediction"].to_numpy() + 2.0  # every prediction two minutes early
    labels = pd.DataFrame({"event_id": log["event_id"], "delivery_minutes": minutes})
    quality = realised_quality(log, labels, DELIVERY)
    assert list(quality["rows"]) == [30], "an hour under realised_min_rows (20) is not reported"
    assert quality["mae"].iloc[0] == pytest.approx(2.0)


@pytest.mark.parametrize("use_case", [FRAUD, DELIVERY], ids=lambda use_case: use_case.name)
def test_realised_quality_is_exported_under_one_name_labelled_with_the_primary_metric(use_case: UseCase) -> None:
    """The alert and the panel read driftloop_realised_quality{metric=<primary>}: each version's newest hour."""
    from monitoring import metrics

    primary = use_case.metric.primary
    quality = pd.DataFrame(
        {
            "model_version": ["7", "7", "8"],
            "hour": pd.to_datetime(["2026-11-24 10:00", "2026-11-24 11:00", "2026-11-24 11:00"], utc=True),
            "rows": [50, 50, 50],
            primary: [0.5, 0.25, 0.75],
        }
    )
    export_realised_quality(quality, primary)
    read = metrics.REGISTRY.get_sample_value
    assert read("driftloop_realised_quality", {"model_version": "7", "metric": primary}) == 0.25
    assert read("driftloop_realised_quality", {"model_version": "8", "metric": primary}) == 0.75
    assert metrics.REALISED_QUALITY in metrics.JOB_METRICS[metrics.QUALITY_JOB]


def test_pending_requests_become_log_rows_in_one_batch_with_their_ids_and_versions(tmp_path: Path) -> None:
    """The writer builds many requests' rows at once; each row keeps its own request's ids, model and time."""
    from pipelines.data.prediction_log_format import Events, PendingRows
    from use_cases.fraud.schema import MODEL_INPUT_COLUMNS

    def inputs(n: int, offset: float) -> dict[str, np.ndarray]:
        columns = {c: np.arange(n, dtype=float) + offset for c in MODEL_INPUT_COLUMNS if c != "channel"}
        return {**columns, "channel": np.array(["online"] * n, dtype=object)}

    received = np.array(["2027-01-15T10:00:00.5", "2027-01-15T10:00:01"], dtype="datetime64[ns]")
    entity_ids = {"customer_id": np.array([7, 8]), "merchant_id": np.array([3, 4])}
    events = Events(entity_ids, np.array(["e-1", "e-2"], dtype=object), received)
    keys = FRAUD.entity_keys
    batch = [
        PendingRows(inputs(2, 0), events, np.array([0.1, 0.2]), "1", "champion", "served", "r1", 1.8e9, keys),
        PendingRows(inputs(1, 10), None, np.array([0.9]), "2", "challenger", "shadow", "r2", 1.8e9 + 3600, keys),
    ]
    log = PredictionLog(tmp_path, flush_s=3600).start()
    for item in batch:
        log.append(item)
    log.close()
    rows = read_prediction_log(tmp_path)
    assert list(rows["request_id"]) == ["r1", "r1", "r2"]
    assert list(rows["customer_id"]) == [7, 8, -1] and list(rows["merchant_id"]) == [3, 4, -1]
    expected = [*MODEL_INPUT_COLUMNS, "customer_id", "merchant_id", "event_id", "event_timestamp", "prediction"]
    expected += ["model_version", "model_alias", "role", "request_id", "logged_at"]
    assert list(rows.columns) == expected, "the log's columns, in today's order"
    assert rows["event_id"].tolist()[:2] == ["e-1", "e-2"] and rows["event_id"].isna().tolist() == [False, False, True]
    stamps = rows["event_timestamp"]
    assert stamps.tolist()[:2] == list(pd.to_datetime(received, utc=True)) and stamps.isna().tolist()[2]
    assert list(rows["model_version"]) == ["1", "1", "2"] and list(rows["role"]) == ["served", "served", "shadow"]
    assert rows["prediction"].tolist() == [0.1, 0.2, 0.9]
    assert rows["amount"].tolist() == [0.0, 1.0, 10.0]
    assert rows["logged_at"].dt.hour.nunique() == 2  # two requests an hour apart land in two partitions
    assert len(list(tmp_path.rglob("part-*.parquet"))) == 2


def test_quality_snapshots_are_replaced_as_labels_arrive_not_duplicated(tmp_path: Path) -> None:
    """One Evidently snapshot per (version, hour): more labels for an hour replace its snapshot."""
    from monitoring.quality import _save_quality_snapshots, realised_quality_of
    from monitoring.workspace import snapshot_count
    from pipelines.core.settings import Settings

    settings = Settings(state_dir=tmp_path)
    rng = np.random.default_rng(5)
    hour = pd.Timestamp("2026-11-26T09:00", tz="UTC")

    def answers(rows: int) -> pd.DataFrame:
        labels = rng.integers(0, 2, rows)
        return pd.DataFrame(
            {
                "model_version": "2",
                "hour": hour,
                "prediction": labels * 0.5 + rng.random(rows) * 0.5,
                "is_fraud": labels,
            }
        )

    first = answers(60)
    _save_quality_snapshots(settings, first, realised_quality_of(first, FRAUD), FRAUD)
    _save_quality_snapshots(settings, first, realised_quality_of(first, FRAUD), FRAUD)  # nothing new: nothing saved
    project = "fraud-detector drift"
    assert snapshot_count(Layout.from_settings(settings).evidently_workspace, project) == 1
    more = pd.concat([first, answers(40)], ignore_index=True)
    _save_quality_snapshots(settings, more, realised_quality_of(more, FRAUD), FRAUD)
    assert snapshot_count(Layout.from_settings(settings).evidently_workspace, project) == 1
    saved = json.loads((tmp_path / "monitor" / "quality_snapshots.json").read_text())
    assert [entry["rows"] for entry in saved.values()] == [100]


def test_a_regression_quality_snapshot_is_evidently_mae(tmp_path: Path) -> None:
    from monitoring.dashboard import DashboardPlan
    from monitoring.workspace import quality_snapshot, save_snapshot, snapshot_count

    labels = pd.Series([20.0, 30.0, 40.0, 50.0])
    snapshot = quality_snapshot(
        "3",
        labels + pd.Series([1.0, -3.0, 2.0, -2.0]),
        labels,
        pd.Timestamp("2026-11-26T09:00", tz="UTC"),
        "regression",
    )
    values = [metric["value"] for metric in snapshot.dict()["metrics"] if "MAE" in str(metric["config"].get("type"))]
    assert values and values[0]["mean"] == pytest.approx(2.0)
    save_snapshot(tmp_path, "delivery-eta drift", snapshot, "quality v3", 0.5, "3", plan=DashboardPlan.of(DELIVERY))
    assert snapshot_count(tmp_path, "delivery-eta drift") == 1


def test_a_snapshot_cut_short_does_not_stop_the_checks_after_it(tmp_path: Path) -> None:
    """A check killed while Evidently wrote its snapshot leaves a cut-off JSON file. Saving opened Evidently's
    whole workspace, which parses every snapshot first: every later check failed on that one file. A save reads
    only the project and the dashboard; the Evidently UI still lists the good snapshots."""
    from monitoring.dashboard import DashboardPlan
    from monitoring.workspace import open_workspace, save_snapshot, skew_snapshot, snapshot_count

    plan, project = DashboardPlan.of(FRAUD), "fraud-detector drift"
    first = save_snapshot(tmp_path, project, skew_snapshot(10, 1, {}), "skew 1", 0.5, plan=plan)
    workspace = open_workspace(tmp_path)
    project_id = workspace.search_project(project)[0].id
    snapshots = tmp_path / str(project_id) / "snapshots"
    (snapshots / f"{first}.json").write_text((snapshots / f"{first}.json").read_text()[:100])  # cut short
    second = save_snapshot(tmp_path, project, skew_snapshot(10, 2, {}), "skew 2", 0.5, plan=plan)
    assert snapshot_count(tmp_path, project) == 2
    assert workspace.get_run(project_id, second).name == "skew 2"


def test_a_snapshot_that_cannot_be_written_whole_leaves_no_file(tmp_path: Path) -> None:
    """Evidently writes a snapshot with `json.dump` into the open file: a failure (or a kill) part way leaves a
    cut file that the Evidently UI then trips on. Our workspace encodes first and renames a whole file in."""
    from evidently.ui.storage.local.base import LocalState

    from monitoring.dashboard import DashboardPlan
    from monitoring.workspace import open_workspace, save_snapshot, skew_snapshot

    class HalfWritable:  # encodes as far as its second metric, then fails
        def dict(self) -> dict[str, object]:
            return {"metrics": [{"value": 1.0}, object()]}

    project = "fraud-detector drift"
    first = save_snapshot(tmp_path, project, skew_snapshot(10, 1, {}), "skew 1", 0.5, plan=DashboardPlan.of(FRAUD))
    workspace = open_workspace(tmp_path)
    project_id = workspace.search_project(project)[0].id
    snapshots = tmp_path / str(project_id) / "snapshots"
    for state in (workspace.state, LocalState(str(tmp_path))):
        with pytest.raises(TypeError):
            state.write_snapshot(project_id, f"{state.__class__.__name__}-snapshot", HalfWritable())
    left = sorted(path.name for path in snapshots.iterdir())
    assert left == sorted([f"{first}.json", "LocalState-snapshot.json"])  # only Evidently's own write left one
    assert json.loads((snapshots / f"{first}.json").read_text())["metadata"] == {}
