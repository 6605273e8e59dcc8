"""Split thresholds the ONNX export reproduces: rows that sit between a threshold and its float32 rounding score
the same in scikit-learn and in onnxruntime once the thresholds are snapped (and did not before)."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from pipelines.registry.onnx_model import export_model, model_scores, open_session
from pipelines.training.float32_splits import float32_exact_thresholds, snap_split_thresholds
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import TrainParams


def test_a_snapped_threshold_splits_every_float64_value_as_its_float32_rounding_does() -> None:
    rng = np.random.default_rng(3)
    thresholds = rng.uniform(-1e4, 1e4, 2_000)
    snapped = float32_exact_thresholds(thresholds)
    assert np.all(np.abs(snapped - thresholds) <= np.abs(thresholds) * 2.0**-23), "moved less than a float32 step"
    # Values within a few float32 steps of each threshold, on both sides, in float64.
    step = np.spacing(thresholds.astype(np.float32)).astype(np.float64)
    values = thresholds[:, None] + step[:, None] * rng.uniform(-3, 3, (thresholds.size, 50))
    float32_side = values.astype(np.float32) <= snapped.astype(np.float32)[:, None]
    assert np.array_equal(values <= snapped[:, None], float32_side)
    assert not np.array_equal(
        values <= thresholds[:, None], values.astype(np.float32) <= thresholds.astype(np.float32)[:, None]
    ), "the raw thresholds disagree somewhere (the problem this solves)"


def test_values_beyond_float32_are_left_alone() -> None:
    huge = np.array([1e300, -1e300, np.inf])
    assert np.array_equal(float32_exact_thresholds(huge), huge)


@pytest.fixture(scope="module")
def fitted() -> tuple[object, pd.DataFrame]:
    """Fraud's real pipeline fitted on float64 values that are not float32-exact."""
    rng = np.random.default_rng(7)
    rows = 3_000
    frame = pd.DataFrame({column: rng.gamma(2.0, 20.0, rows) for column in FRAUD.model_input.numeric})
    for column in FRAUD.model_input.categorical:
        frame[column] = rng.choice(list(FRAUD.model_input.categories[column]), rows)
    labels = (frame[FRAUD.model_input.numeric[0]] + rng.normal(0, 15, rows) > 60).astype(int)
    model = FRAUD.model.build(TrainParams(max_iter=30), 7, FRAUD.model_input)
    model.fit(frame, labels)
    return model, frame


def _rows_near_the_splits(model: object, frame: pd.DataFrame) -> pd.DataFrame:
    """For every numeric split: copies of a row with that feature just around the threshold, in float64."""
    numeric = FRAUD.model_input.numeric
    rng = np.random.default_rng(11)
    near = []
    for iteration in model.steps[-1][1]._predictors:  # type: ignore[attr-defined]
        for tree in iteration:
            for node in tree.nodes[(tree.nodes["is_leaf"] == 0) & (tree.nodes["is_categorical"] == 0)]:
                if node["feature_idx"] >= len(numeric):
                    continue
                threshold = float(node["num_threshold"])
                step = float(np.spacing(np.float32(threshold)))
                rows = frame.sample(4, random_state=int(rng.integers(1 << 30))).copy()
                rows[numeric[node["feature_idx"]]] = threshold + step * rng.uniform(-1, 1, len(rows))
                near.append(rows)
    return pd.concat(near, ignore_index=True)


def _largest_gap(model: object, rows: pd.DataFrame) -> float:
    session = open_session(export_model(model, FRAUD.model.onnx, FRAUD.model_input), threads=1)  # type: ignore[arg-type]
    columns = {name: rows[name].to_numpy() for name in FRAUD.model_input.columns}
    onnx = model_scores(session, columns, FRAUD.model.onnx, FRAUD.model_input)
    return float(np.abs(FRAUD.model.score(model, rows) - onnx).max())


def test_the_export_scores_rows_at_the_thresholds_as_scikit_learn_does_once_snapped(fitted: tuple) -> None:  # type: ignore[type-arg]
    model, frame = fitted
    raw = copy.deepcopy(model)
    rows = _rows_near_the_splits(raw, frame)
    assert _largest_gap(raw, rows) > FRAUD.model.onnx.parity_tolerance, "unsnapped, some rows flip a split"
    snapped = copy.deepcopy(model)
    assert snap_split_thresholds(snapped) > 0
    rows = _rows_near_the_splits(snapped, frame)
    assert _largest_gap(snapped, rows) < 1e-6, "snapped, only the float32 sum of the leaves differs"
