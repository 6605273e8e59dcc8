"""The training pipeline for real: kfp.local, a real MLflow server, real Feast on SQLite.

One platform and one generated data set serve the whole module; each test runs the pipeline through the
`driftloop` CLI, as a user would, and reads the outcome from the MLflow registry.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.integration.conftest import run_id_of, train
from tests.integration.local_platform import PlatformUnderTest
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import PARITY_TOLERANCE

pytestmark = pytest.mark.integration

LINEAGE_TAGS = {
    "data_fingerprint",
    "code_commit",
    "code_dirty",
    "pipeline_run_id",
    "mlflow_run_id",
    "seed",
    "params",
    "feature_views",
    "gate_reason",
    "reference_sample",
    "metric.holdout_roc_auc",
    "metric.holdout_pr_auc",
    "metric.holdout_ece",
}


def test_first_run_registers_version_1_as_champion_with_lineage(first_run: str, client) -> None:  # type: ignore[no-untyped-def]
    champion = client.get_model_version("fraud-detector", client.get_run(first_run).data.tags["registered_version"])
    assert champion.version == "1"
    assert set(champion.tags) >= LINEAGE_TAGS, LINEAGE_TAGS - set(champion.tags)
    assert champion.tags["mlflow_run_id"] == first_run
    assert champion.tags["seed"] == "42"
    assert champion.tags["feature_views"] == "card_velocity,customer_stats,merchant_stats"
    assert len(champion.tags["code_commit"]) == 40
    assert float(champion.tags["metric.holdout_roc_auc"]) >= 0.75
    run = client.get_run(first_run)
    assert run.data.tags["validation"] == "passed"
    assert run.data.tags["gate_decision"] == "promote"
    assert run.data.tags["data_fingerprint"] == champion.tags["data_fingerprint"]
    assert run.data.tags["kfp.pipeline_run_id"] == champion.tags["pipeline_run_id"] != ""
    import mlflow

    from pipelines.registry.tracking import fluent_tracking

    with fluent_tracking(client.tracking_uri):  # what a user does: `models:/` through MLflow's own resolution
        model = mlflow.pyfunc.load_model("models:/fraud-detector@champion")
    assert model.metadata.get_input_schema() is not None
    reference = mlflow.artifacts.download_artifacts(champion.tags["reference_sample"], tracking_uri=client.tracking_uri)
    assert len(pd.read_parquet(reference)) > 100
    # The ONNX export serving scores with: parity on the holdout recorded on the run and the version.
    assert 0.0 <= float(champion.tags["onnx_parity_max_abs_diff"]) <= PARITY_TOLERANCE
    assert run.data.metrics["onnx_parity_max_abs_diff"] == float(champion.tags["onnx_parity_max_abs_diff"])
    assert champion.tags["onnxruntime_version"] and champion.tags["skl2onnx_version"]
    onnx_file = mlflow.artifacts.download_artifacts(champion.tags["onnx_model_uri"], tracking_uri=client.tracking_uri)
    assert Path(onnx_file).stat().st_size > 10_000


def test_same_data_and_seed_give_identical_metrics_and_predictions(
    platform: PlatformUnderTest,
    first_run: str,
    client,
    raw_data: dict[str, Path],  # type: ignore[no-untyped-def]
) -> None:
    champion_before = client.get_model_version_by_alias("fraud-detector", "champion").version
    # The same window: the event store has grown since (other tests served traffic and sent labels), but what a
    # window holds is fixed by its end, so the run reads exactly the same data.
    code, output = train(platform, "--window-end", client.get_run(first_run).data.params["window_end"])
    assert code == 0, output
    second_run = run_id_of(output)
    first, second = client.get_run(first_run).data, client.get_run(second_run).data
    holdout = {k: v for k, v in first.metrics.items() if k.startswith("holdout_")}
    assert holdout and holdout == {k: second.metrics[k] for k in holdout}
    assert first.tags["data_fingerprint"] == second.tags["data_fingerprint"]
    # An equal model does not beat the champion: the alias stays. Its improvement is exactly 0 on every resample.
    assert second.tags["gate_decision"] == "reject"
    assert second.tags["gate_check"] == "not_better" and second.tags["gate_evidence_metric"] == "precision_at_budget"
    assert "improvement +0.0000 [90% CI +0.0000, +0.0000] over " in second.tags["gate_reason"]
    assert second.metrics["gate_evidence_positives"] >= 10
    assert client.get_model_version_by_alias("fraud-detector", "champion").version == champion_before

    import mlflow

    from pipelines.registry.tracking import fluent_tracking

    with fluent_tracking(client.tracking_uri):
        one = mlflow.sklearn.load_model(first.tags["model_uri"])
        two = mlflow.sklearn.load_model(second.tags["model_uri"])
        sample = pd.read_parquet(
            mlflow.artifacts.download_artifacts(f"runs:/{first_run}/reference/reference_sample.parquet")
        ).drop(columns=["prediction"])
    assert (one.predict_proba(sample) == two.predict_proba(sample)).all()


def test_a_worse_model_never_takes_the_champion_alias(platform: PlatformUnderTest, first_run: str, client) -> None:  # type: ignore[no-untyped-def]
    versions_before = {v.version for v in client.search_model_versions("name='fraud-detector'")}
    champion_before = client.get_model_version_by_alias("fraud-detector", "champion").version
    code, output = train(platform, "--shuffle-labels")
    assert code == 0, output
    run = client.get_run(run_id_of(output)).data
    assert run.tags["gate_decision"] == "reject"
    assert run.metrics["holdout_roc_auc"] < 0.7
    assert client.get_model_version_by_alias("fraud-detector", "champion").version == champion_before
    assert {v.version for v in client.search_model_versions("name='fraud-detector'")} == versions_before


def _corrupt(events: pd.DataFrame, labels: pd.DataFrame, how: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    events = events.copy()
    if how == "nulls":
        events.loc[events.index[:5], "amount"] = None
    elif how == "wrong_types":
        events["amount"] = events["amount"].astype(str)
    elif how == "negative_amounts":
        events.loc[events.index[:3], "amount"] = -10.0
    elif how == "duplicate_ids":
        events.loc[events.index[1], "event_id"] = events["event_id"].iloc[0]
    elif how == "future_timestamps":
        events.loc[events.index[:2], "event_timestamp"] = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)
    return events, labels


CORRUPTIONS = {
    "nulls": "events.amount.nulls",
    "wrong_types": "events.amount.type",
    "negative_amounts": "events.amount.range",
    "duplicate_ids": "events.event_id.unique",
    "future_timestamps": "events.event_timestamp.future",
}


@pytest.mark.parametrize("how", sorted(CORRUPTIONS))
def test_corrupted_rows_are_quarantined_at_landing_and_change_nothing(
    platform: PlatformUnderTest, first_run: str, raw_data: dict[str, Path], tmp_path: Path, how: str
) -> None:
    """Bad rows never reach the event store, so no training run can read them."""
    from pipelines.data.event_store import EventStore

    store = EventStore(platform.state_dir / "events", platform.state_dir / "predictions", FRAUD)
    before = len(store.landed_events())
    events, _ = _corrupt(pd.read_parquet(raw_data["events"]), pd.read_parquet(raw_data["labels"]), how)
    events.to_parquet(tmp_path / "events.parquet", index=False)
    result = platform.run("data", "ingest", "events", str(tmp_path / "events.parquet"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert CORRUPTIONS[how] in result.stdout and "quarantined" in result.stderr
    assert len(store.landed_events()) == before
    quarantined = pd.concat([pd.read_parquet(f) for f in store.quarantine_dir.local_path.glob("events-*.parquet")])
    assert quarantined["quarantine_reason"].str.contains(CORRUPTIONS[how], regex=False).any()


def test_a_stale_window_fails_at_validation_and_registers_nothing(
    platform: PlatformUnderTest,
    first_run: str,
    client,  # type: ignore[no-untyped-def]
) -> None:
    versions_before = {v.version for v in client.search_model_versions("name='fraud-detector'")}
    ten_days_on = (pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S")
    code, output = train(platform, "--window-end", ten_days_on)
    assert code == 1, output
    assert "data contract violated" in output and "events.freshness" in output
    run = client.get_run(run_id_of(output))
    assert run.data.tags["validation"] == "failed"
    assert "gate_decision" not in run.data.tags
    assert "model_uri" not in run.data.tags
    report = [a.path for a in client.list_artifacts(run.info.run_id, "validation")]
    assert report, "the validation report is logged with the run"
    assert {v.version for v in client.search_model_versions("name='fraud-detector'")} == versions_before
