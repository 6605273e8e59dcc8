"""A registered model version, loaded for scoring: its ONNX export in onnxruntime, or its scikit-learn flavour
for a version registered without one (older versions), which is logged as the slower path it is."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from pipelines.features.model_input import MODEL_INPUT_COLUMNS
from pipelines.registry.onnx_model import ONNX_URI_TAG, onnx_scores, open_session
from pipelines.registry.tracking import load_sklearn_version

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)


class ScoringModel(Protocol):
    """A registered version ready to score arrays: the ONNX export, or the scikit-learn fallback."""

    flavour: str

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """Fraud probability per row, from one array per model input column."""
        ...


class OnnxModel:
    """The version's ONNX export in onnxruntime: the fast path every exported version takes."""

    flavour = "onnx"

    def __init__(self, model_bytes: bytes, threads: int) -> None:
        self.session = open_session(model_bytes, threads)

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        return onnx_scores(self.session, inputs)


class SklearnModel:
    """The version's scikit-learn flavour: only for a version registered without an ONNX export."""

    flavour = "sklearn"

    def __init__(self, model: Any) -> None:
        self.model = model

    def scores(self, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
        import pandas as pd

        frame = pd.DataFrame({column: inputs[column] for column in MODEL_INPUT_COLUMNS})
        return np.asarray(self.model.predict_proba(frame)[:, 1], dtype=np.float64)


def load_version(client: MlflowClient, model_name: str, version: str, onnx_threads: int) -> ScoringModel:
    """The version's ONNX export when it has one, else its scikit-learn flavour."""
    import mlflow.artifacts

    registered = client.get_model_version(model_name, version)
    onnx_uri = (registered.tags or {}).get(ONNX_URI_TAG)
    if onnx_uri:
        path = mlflow.artifacts.download_artifacts(artifact_uri=onnx_uri, tracking_uri=client.tracking_uri)
        return OnnxModel(Path(path).read_bytes(), onnx_threads)
    logger.warning("%s version %s has no ONNX export: scoring with its scikit-learn flavour", model_name, version)
    return SklearnModel(load_sklearn_version(client, model_name, version))
