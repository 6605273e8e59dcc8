"""Fit a use case's model: the estimator is the use case's (`ModelSpec.build`), the columns and label its
declaration's. The seed is explicit; the same data and seed give the same model.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pandas as pd

from pipelines.core.use_case import UseCase
from pipelines.training.float32_splits import snap_split_thresholds

logger = logging.getLogger(__name__)


def model_params(use_case: UseCase, params_json: str) -> Any:
    """The use case's hyperparameters from a run's JSON (its declared defaults for what the JSON leaves out)."""
    return use_case.model.params(**json.loads(params_json or "{}"))


def train_model(
    training_set: pd.DataFrame, use_case: UseCase, params: Any, seed: int, shuffle_labels: bool = False
) -> Any:
    """Fit on the model input columns. `shuffle_labels` trains a deliberately useless model (gate tests)."""
    labels = training_set[use_case.label.name].to_numpy()
    if shuffle_labels:
        labels = np.random.default_rng(seed).permutation(labels)
    model = use_case.model.build(params, seed, use_case.model_input)
    model.fit(training_set[list(use_case.model_input.columns)], labels)
    moved = snap_split_thresholds(model)  # so the ONNX export splits every row as scikit-learn does
    logger.debug("%d split thresholds moved to float32 midpoints", moved)
    if use_case.label.kind == "binary":
        logger.info("trained on %d rows (%d %s)", len(training_set), int(labels.sum()), use_case.label.positive)
    else:
        logger.info("trained on %d rows (label mean %.2f %s)", len(training_set), labels.mean(), use_case.label.unit)
    return model
