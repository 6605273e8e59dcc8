"""The fraud model: gradient-boosted trees over the transaction and its customer's and merchant's features.

Imputation and encoding live inside the scikit-learn pipeline, so the served model (exported to ONNX) treats a
missing feature or an unseen channel exactly as training did. scikit-learn is imported when a model is built,
not when the use case is loaded (the servers load it and never train).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.core.use_case import ModelInput
from pipelines.training.model_pipeline import BoostedTreeParams, with_preprocessing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FEATURE_DEFAULT = 0.0  # no history means zero activity
PROBABILITIES_OUTPUT = "probabilities"  # the classifier's ONNX output ([N, 2] with zipmap off)
# The tree ensemble sums its leaves in float32 in onnxruntime: over a few hundred trees that drifts from
# scikit-learn's float64 by up to ~2e-5 in probability (1.91e-5 measured on a demo retrain). A broken export
# (a column out of order, a category mapped wrong) is off by 1e-2 and more; 1e-4 tells the two apart.
PARITY_TOLERANCE = 1e-4


TrainParams = BoostedTreeParams  # the trees' hyperparameters (pipelines.training.model_pipeline)


def build_model(params: Any, seed: int, model_input: ModelInput) -> Any:
    """An unfitted pipeline over the model input columns, in the declaration's order."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    classifier = HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params.as_dict())
    return with_preprocessing(classifier, model_input, FEATURE_DEFAULT)


def fraud_scores(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Probability of fraud per row (the columns the model was fitted on, in that order)."""
    return model.predict_proba(frame[list(model.feature_names_in_)])[:, 1]
