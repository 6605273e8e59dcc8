"""A use case's model as ONNX: exported once by the training pipeline, scored by onnxruntime in serving.

The scikit-learn pipeline costs milliseconds per row (most of it pandas in the ColumnTransformer); the same
pipeline in onnxruntime costs tens of microseconds from arrays. The export is held to the original on the
holdout (largest absolute difference in score, the declaration's `OnnxSpec.parity_tolerance`) before a version
can be registered, and the registered version keeps both: the ONNX file is an artifact of its run
(`ONNX_ARTIFACT_PATH`), the scikit-learn flavour stays the version's model for everything else.

Inputs are one `[N, 1]` tensor per model input column, named like the column: numeric columns as float32
(the trees compare float32 thresholds either way), the categorical columns as strings. The exported trees are
rewritten into the form onnxruntime scores fastest (`pipelines.registry.onnx_trees`), and a batch is scored on
more threads than a single row (`OnnxSession`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import numpy as np

from pipelines.core.use_case import ModelInput, OnnxSpec
from pipelines.registry.onnx_trees import faster_trees

if TYPE_CHECKING:
    import pandas as pd
    from onnxruntime import InferenceSession
    from sklearn.pipeline import Pipeline

ONNX_ARTIFACT_PATH = "onnx/model.onnx"  # within the training run's artifacts
PARITY_METRIC = "onnx_parity_max_abs_diff"  # on the training run and, as a tag, on the model version
ONNX_URI_TAG = "onnx_model_uri"  # model version tag: where serving finds the ONNX file
# ai.onnx.ml 3 holds the tree ensembles every onnxruntime release since 1.x runs (ai.onnx.ml 5's TreeEnsemble
# runs the same code in onnxruntime: nothing to gain there).
TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
# A call of this many rows or more runs on the batch session: onnxruntime splits trees between threads from
# about 50 rows, but below 128 a second thread saves a few hundred microseconds at most.
BATCH_ROWS = 128
BATCH_THREADS = 2  # the batch session's threads (DRIFTLOOP_ONNX_BATCH_THREADS in serving)


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
    return bytes(faster_trees(graph).SerializeToString())


class OnnxSession:
    """A model's ONNX graph in onnxruntime, opened twice: a call of fewer than `BATCH_ROWS` rows runs on `small`
    (its `threads`, one for serving: a one-row request hands nothing to another thread), a bigger one on `batch`
    (its `batch_threads`: the trees split between the threads). One session when `batch_threads` is not more.

    onnxruntime walks every tree for every row, and most of a batch's time goes to mispredicted branches there
    (1,000 copies of one row score three times faster than 1,000 different rows): one thread takes about 5 ms
    for 1,000 rows of the fraud model (200 trees) in any graph form, two take 3 ms when the second core is free.
    A batch thus takes that core from whatever else the server runs; and where the cores are busy, the threads
    wait for each other at every block of rows: on two cores at a load average of 4, a 1,000-row call took
    15 ms (p50) on two threads against 12 ms on one, for twice the CPU time. There, set `batch_threads` to
    `threads`.
    """

    def __init__(self, model_bytes: bytes, threads: int, batch_threads: int) -> None:
        self.small = _inference_session(model_bytes, threads)
        self.batch = _inference_session(model_bytes, batch_threads) if batch_threads > threads else self.small

    def run(self, output: str, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's `output` for `feeds` (one [N, 1] array per input)."""
        rows = len(next(iter(feeds.values())))
        session = self.batch if rows >= BATCH_ROWS else self.small
        (result,) = session.run([output], feeds)
        return np.asarray(result)


def open_session(model_bytes: bytes, threads: int, batch_threads: int = BATCH_THREADS) -> OnnxSession:
    """The model in onnxruntime with its thread pools sized explicitly (the default takes every core)."""
    return OnnxSession(model_bytes, threads, batch_threads)


def _inference_session(model_bytes: bytes, threads: int) -> InferenceSession:
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
    session: OnnxSession, columns: Mapping[str, Any], spec: OnnxSpec, model_input: ModelInput
) -> np.ndarray:
    """One score per row, as float64 like scikit-learn's: the declared output, and its column for a classifier."""
    output = session.run(spec.output, model_feeds(columns, model_input))
    scores = output[:, spec.column] if spec.column is not None else output.reshape(-1)
    return np.asarray(scores, dtype=np.float64)


def parity_gap(
    score: Callable[[Pipeline, pd.DataFrame], np.ndarray],
    model: Pipeline,
    session: OnnxSession,
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
