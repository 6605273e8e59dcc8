"""The delivery model: gradient-boosted regression trees on the request's fields and the views' features.

Imputation and encoding live inside the scikit-learn pipeline, so the served model (exported to ONNX as a
TreeEnsembleRegressor) treats a missing feature or an unseen vehicle exactly as training did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipelines.core.use_case import ModelInput
from pipelines.training.model_pipeline import BoostedTreeParams, with_preprocessing

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FEATURE_DEFAULT = 0.0  # no history: no orders, no known minutes


DeliveryParams = BoostedTreeParams  # the trees' hyperparameters (pipelines.training.model_pipeline)


def build_model(params: Any, seed: int, model_input: ModelInput) -> Any:
    """An unfitted pipeline over the model input columns, in the declaration's order."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    regressor = HistGradientBoostingRegressor(random_state=seed, early_stopping=False, **params.as_dict())
    return with_preprocessing(regressor, model_input, FEATURE_DEFAULT)


def predicted_minutes(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The ETA in minutes per row."""
    import numpy as np

    columns = [*model.feature_names_in_]
    return np.asarray(model.predict(frame[columns]), dtype=np.float64)


def realised_mae(labels: np.ndarray, predictions: np.ndarray) -> float | None:
    """MAE of one (version, hour) group of served answers, in minutes."""
    import numpy as np

    return float(np.abs(np.asarray(predictions) - np.asarray(labels)).mean()) if len(labels) else None
