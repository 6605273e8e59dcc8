"""A use case's model as ONNX: exported once by the training pipeline, scored by onnxruntime in serving.

The scikit-learn pipeline costs milliseconds per row (most of it pandas in the ColumnTransformer); the same
pipeline in onnxruntime costs tens of microseconds from arrays. The export is held to the original on the
holdout (largest absolute difference in score, the declaration's `OnnxSpec.parity_tolerance`) before a version
can be registered, and the registered version keeps both: the ONNX file is an artifact of its run
(`ONNX_ARTIFACT_PATH`), the scikit-learn flavour stays the version's model for everything else.

Inputs are one `[N, 1]` tensor per model input column, named like the column: numeric columns as float32
(the trees compare float32 thresholds either way), the categorical columns as strings.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.core.use_case import ModelInput, OnnxSpec

if TYPE_CHECKING:
    import pandas as pd
    from onnxruntime import InferenceSession
    from sklearn.pipeline import Pipeline

ONNX_ARTIFACT_PATH = "onnx/model.onnx"  # within the training run's artifacts
PARITY_METRIC = "onnx_parity_max_abs_diff"  # on the training run and, as a tag, on the model version
ONNX_URI_TAG = "onnx_model_uri"  # model version tag: where serving finds the ONNX file
# ai.onnx.ml 3 holds the TreeEnsembleClassifier every onnxruntime release since 1.x runs.
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}


def export_model(model: Pipeline, spec: OnnxSpec, model_input: ModelInput) -> bytes:
    """A use case's fitted pipeline as a serialised ONNX graph, with the options its declaration asks for (a
    classifier's probabilities as a plain tensor, `{"zipmap": False}`; a regressor's as is)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    inputs = [(name, FloatTensorType([None, 1])) for name in model_input.numeric]
    inputs += [(name, StringTensorType([None, 1])) for name in model_input.categorical]
    with warnings.catch_warnings():  # skl2onnx passes booleans where onnx wants ints: noise in every run's log
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="onnx")
        graph = convert_sklearn(
            model, initial_types=inputs, options={id(model): dict(spec.options)}, target_opset=dict(spec.target_opset)
        )
    return bytes(graph.SerializeToString())


def open_session(model_bytes: bytes, threads: int) -> InferenceSession:
    """An onnxruntime session with its thread pools sized explicitly (the default takes every core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def model_feeds(columns: Mapping[str, Any], model_input: ModelInput) -> dict[str, np.ndarray]:
    """A use case's model input columns (one array or list each) as the graph's named [N, 1] inputs."""
    feeds = {name: np.asarray(columns[name], dtype=np.float32).reshape(-1, 1) for name in model_input.numeric}
    for name in model_input.categorical:
        feeds[name] = np.asarray(columns[name], dtype=object).reshape(-1, 1)
    return feeds


def model_scores(
    session: InferenceSession, columns: Mapping[str, Any], spec: OnnxSpec, model_input: ModelInput
) -> np.ndarray:
    """One score per row, as float64 like scikit-learn's: the declared output, and its column for a classifier."""
    (output,) = session.run([spec.output], model_feeds(columns, model_input))
    scores = output[:, spec.column] if spec.column is not None else np.asarray(output).reshape(-1)
    return np.asarray(scores, dtype=np.float64)


def parity_gap(
    score: Callable[[Pipeline, pd.DataFrame], np.ndarray],
    model: Pipeline,
    session: InferenceSession,
    frame: pd.DataFrame,
    spec: OnnxSpec,
    model_input: ModelInput,
) -> float:
    """Largest absolute difference in score between the pipeline (scored by `score`, the use case's own scorer)
    and its export on `frame`."""
    if frame.empty:
        return 0.0
    columns = {name: frame[name].to_numpy() for name in model_input.columns}
    gap = np.abs(score(model, frame) - model_scores(session, columns, spec, model_input))
    return float(gap.max())


def runtime_versions() -> dict[str, str]:
    """The converter and runtime a version was checked with (lineage)."""
    return {"onnxruntime_version": version("onnxruntime"), "skl2onnx_version": version("skl2onnx")}


def onnx_lineage(run_id: str, parity: float, versions: Mapping[str, str]) -> dict[str, Any]:
    """Model version tags: where the export is, how close it came to the original, what checked it."""
    return {ONNX_URI_TAG: f"runs:/{run_id}/{ONNX_ARTIFACT_PATH}", PARITY_METRIC: parity, **versions}
