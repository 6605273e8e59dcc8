"""A registered model version, loaded for scoring: its ONNX export in onnxruntime, or its scikit-learn flavour
for a version registered without one (older versions), which is logged as the slower path it is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pipelines.core.use_case import ModelInput, ModelSpec
from pipelines.registry.onnx_model import BATCH_THREADS, ONNX_URI_TAG, model_scores, open_session
from pipelines.registry.tracking import load_sklearn_version

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)


class ScoringModel(Protocol):
    """A registered version ready to score arrays: the ONNX export, or the scikit-learn fallback."""

    flavour: str

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """The use case's score per row, from one array per model input column."""
        ...


class OnnxModel:
    """The version's ONNX export in onnxruntime: the fast path every exported version takes (`threads` for a
    call of a few rows, `batch_threads` for a batch: `pipelines.registry.onnx_model.OnnxSession`)."""

    flavour = "onnx"

    def __init__(
        self,
        model_bytes: bytes,
        threads: int,
        spec: ModelSpec,
        model_input: ModelInput,
        batch_threads: int = BATCH_THREADS,
    ) -> None:
        self.session = open_session(model_bytes, threads, batch_threads)
        self.spec, self.model_input = spec.onnx, model_input

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        return model_scores(self.session, inputs, self.spec, self.model_input)


class SklearnModel:
    """The version's scikit-learn flavour: only for a version registered without an ONNX export."""

    flavour = "sklearn"

    def __init__(self, model: Any, spec: ModelSpec, model_input: ModelInput) -> None:
        self.model, self.spec, self.model_input = model, spec, model_input

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame({column: inputs[column] for column in self.model_input.columns})
        return np.asarray(self.spec.score(self.model, frame), dtype=np.float64)


def load_version(
    client: MlflowClient,
    model_name: str,
    version: str,
    onnx_threads: int,
    spec: ModelSpec,
    model_input: ModelInput,
    onnx_batch_threads: int = BATCH_THREADS,
) -> ScoringModel:
    """The version's ONNX export when it has one, else its scikit-learn flavour (scored as the use case says)."""
    import mlflow.artifacts

    registered = client.get_model_version(model_name, version)
    onnx_uri = (registered.tags or {}).get(ONNX_URI_TAG)
    if onnx_uri:
        path = mlflow.artifacts.download_artifacts(artifact_uri=onnx_uri, tracking_uri=client.tracking_uri)
        return OnnxModel(Path(path).read_bytes(), onnx_threads, spec, model_input, onnx_batch_threads)
    logger.warning("%s version %s has no ONNX export: scoring with its scikit-learn flavour", model_name, version)
    return SklearnModel(load_sklearn_version(client, model_name, version), spec, model_input)
