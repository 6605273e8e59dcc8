"""The ONNX export against the scikit-learn pipeline it came from, and how serving loads a registered version:
the export when the version has one, the scikit-learn flavour (logged as such) when it has none.

The registry here is MLflow's own SQLite store, no server: the same client calls the predictor makes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
import pytest

from pipelines.registry.onnx_model import (
    BATCH_ROWS,
    TARGET_OPSET,
    export_model,
    model_feeds,
    model_scores,
    open_session,
    parity_gap,
)
from pipelines.registry.onnx_trees import faster_trees
from pipelines.training.float32_splits import snap_split_thresholds
from pipelines.training.train import train_model
from tests.unit.synthetic import model_input_frame
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import PARITY_TOLERANCE, TrainParams, fraud_scores
from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS, IS_FRAUD, MODEL_INPUT_COLUMNS


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame]:
    model = train_model(model_input_frame(3000, seed=1), FRAUD, TrainParams(max_iter=60), seed=1)
    return model, model_input_frame(2000, seed=2)


def test_the_export_scores_like_the_pipeline_on_unseen_rows(fitted: tuple[object, pd.DataFrame]) -> None:
    model, holdout = fitted
    session = open_session(export_model(model, FRAUD.model.onnx, FRAUD.model_input), threads=1)  # type: ignore[arg-type]
    gap = parity_gap(fraud_scores, model, session, holdout, FRAUD.model.onnx, FRAUD.model_input)  # type: ignore[arg-type]
    assert gap <= PARITY_TOLERANCE
    assert holdout[list(FEATURE_VIEW_COLUMNS)].isna().any().any(), "the parity check must cover missing values"
    one_row = {name: holdout[name].to_numpy()[:1] for name in MODEL_INPUT_COLUMNS}
    expected = fraud_scores(model, holdout.head(1))  # type: ignore[arg-type]
    assert abs(model_scores(session, one_row, FRAUD.model.onnx, FRAUD.model_input)[0] - expected[0]) <= PARITY_TOLERANCE


def test_the_gap_is_measured_not_assumed(fitted: tuple[object, pd.DataFrame]) -> None:
    """A different model's export scored against this pipeline shows a gap far above the tolerance."""
    model, holdout = fitted
    other = train_model(model_input_frame(3000, seed=9), FRAUD, TrainParams(max_iter=5), seed=9)
    assert (
        parity_gap(
            fraud_scores,
            model,
            open_session(export_model(other, FRAUD.model.onnx, FRAUD.model_input), threads=1),
            holdout,
            FRAUD.model.onnx,
            FRAUD.model_input,
        )
        > 100 * PARITY_TOLERANCE
    )  # type: ignore[arg-type]


def test_a_version_loads_its_export_or_falls_back_to_scikit_learn_saying_so(
    fitted: tuple[object, pd.DataFrame], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pipelines.registry.models import log_model, log_onnx, register
    from pipelines.registry.onnx_model import onnx_lineage, runtime_versions
    from pipelines.registry.tracking import in_run, tracking_client
    from serving.loaded_model import OnnxModel, SklearnModel, load_version

    model, holdout = fitted
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = tracking_client(uri)
    experiment = client.create_experiment("onnx", artifact_location=str(tmp_path / "artifacts"))
    inputs = holdout[list(MODEL_INPUT_COLUMNS)]
    run_id = client.create_run(experiment).info.run_id
    with in_run(uri, run_id):
        model_uri = log_model(model, inputs.head(5), inputs.head(20))  # type: ignore[arg-type]
        log_onnx(export_model(model, FRAUD.model.onnx, FRAUD.model_input))  # type: ignore[arg-type]
    with_onnx = register(client, model_uri, "m", run_id, onnx_lineage(run_id, 0.0, runtime_versions()), "test")
    without = register(client, model_uri, "m", run_id, {}, "test")

    columns = {name: inputs[name].to_numpy() for name in MODEL_INPUT_COLUMNS}
    expected = fraud_scores(model, holdout)  # type: ignore[arg-type]
    loaded = load_version(client, "m", with_onnx.version, 1, FRAUD.model, FRAUD.model_input)
    assert isinstance(loaded, OnnxModel)
    np.testing.assert_allclose(loaded.scores(columns), expected, atol=PARITY_TOLERANCE, rtol=0)
    with caplog.at_level(logging.WARNING, logger="serving.loaded_model"):
        fallback = load_version(client, "m", without.version, 1, FRAUD.model, FRAUD.model_input)
    assert isinstance(fallback, SklearnModel)
    assert "has no ONNX export" in caplog.text
    np.testing.assert_allclose(fallback.scores(columns), expected, rtol=1e-12)


def _tree_nodes(graph: onnx.ModelProto) -> list[onnx.NodeProto]:
    return [node for node in graph.graph.node if node.op_type.startswith("TreeEnsemble")]


def test_the_export_is_one_margin_ensemble_without_nan_tests(fitted: tuple[object, pd.DataFrame]) -> None:
    """The binary classifier leaves as regression trees and a sigmoid, its NaN tests dropped (the imputer runs
    first): the same [1 - p, p] probabilities, missing values included."""
    model, holdout = fitted
    graph = onnx.load_from_string(export_model(model, FRAUD.model.onnx, FRAUD.model_input))  # type: ignore[arg-type]
    (trees,) = _tree_nodes(graph)
    assert trees.op_type == "TreeEnsembleRegressor"
    assert "nodes_missing_value_tracks_true" not in {attribute.name for attribute in trees.attribute}
    assert [output.name for output in graph.graph.output] == ["probabilities"]
    session = open_session(graph.SerializeToString(), threads=1)
    columns = {name: holdout[name].to_numpy() for name in MODEL_INPUT_COLUMNS}
    probabilities = session.run("probabilities", model_feeds(columns, FRAUD.model_input))
    expected = model.predict_proba(holdout[list(MODEL_INPUT_COLUMNS)])  # type: ignore[attr-defined]
    np.testing.assert_allclose(probabilities, expected, atol=PARITY_TOLERANCE, rtol=0)


def test_trees_a_missing_value_can_reach_keep_their_nan_tests() -> None:
    """No imputer before the trees: a NaN must still go where scikit-learn sends it, so the tests stay."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame = model_input_frame(3000, seed=4)
    inputs = frame[list(FEATURE_VIEW_COLUMNS)].astype(np.float32).astype(np.float64)
    classifier = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(inputs, frame[IS_FRAUD])
    snap_split_thresholds(classifier)
    graph = convert_sklearn(
        classifier,
        initial_types=[("X", FloatTensorType([None, inputs.shape[1]]))],
        options={id(classifier): {"zipmap": False}},
        target_opset=TARGET_OPSET,
    )
    (trees,) = _tree_nodes(faster_trees(graph))
    tracks = next(a for a in trees.attribute if a.name == "nodes_missing_value_tracks_true")
    assert trees.op_type == "TreeEnsembleRegressor" and any(tracks.ints)
    session = open_session(graph.SerializeToString(), threads=1)
    missing = inputs.isna().any(axis=1).to_numpy()
    scores = session.run("probabilities", {"X": inputs.to_numpy(np.float32)})[:, 1]
    gap = np.abs(scores - classifier.predict_proba(inputs)[:, 1])
    assert missing.sum() > 100 and gap[missing].max() <= PARITY_TOLERANCE


def test_a_batch_runs_on_the_batch_threads_and_a_few_rows_on_one(fitted: tuple[object, pd.DataFrame]) -> None:
    model, holdout = fitted
    onnx_bytes = export_model(model, FRAUD.model.onnx, FRAUD.model_input)  # type: ignore[arg-type]
    session = open_session(onnx_bytes, threads=1, batch_threads=2)
    assert session.small.get_session_options().intra_op_num_threads == 1
    assert session.batch.get_session_options().intra_op_num_threads == 2
    ran: list[int] = []
    for threads, inner in ((1, session.small), (2, session.batch)):
        session_run = inner.run
        inner.run = lambda names, feeds, run=session_run, n=threads: ran.append(n) or run(names, feeds)  # type: ignore[method-assign]
    columns = {name: holdout[name].to_numpy() for name in MODEL_INPUT_COLUMNS}
    few = {name: values[: BATCH_ROWS - 1] for name, values in columns.items()}
    one_thread = open_session(onnx_bytes, threads=1, batch_threads=1)
    assert one_thread.batch is one_thread.small
    spec = FRAUD.model.onnx
    np.testing.assert_allclose(
        model_scores(session, columns, spec, FRAUD.model_input),
        model_scores(one_thread, columns, spec, FRAUD.model_input),
        atol=1e-6,  # the threads sum their halves of the trees apart
        rtol=0,
    )
    model_scores(session, few, spec, FRAUD.model_input)
    assert ran == [2, 1]
