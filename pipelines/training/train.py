"""Train the fraud model: a scikit-learn pipeline whose preprocessing travels with the model.

Imputation and encoding live inside the pipeline, so the served model treats a missing feature or an
unseen channel exactly as training did. The seed is explicit; the same data and seed give the same model.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from pipelines.data.schema import IS_FRAUD
from pipelines.features.model_input import (
    CATEGORICAL_COLUMNS,
    CATEGORIES,
    FEATURE_DEFAULT,
    MODEL_INPUT_COLUMNS,
    NUMERIC_COLUMNS,
)
from pipelines.training.params import TrainParams

logger = logging.getLogger(__name__)


def build_model(params: TrainParams, seed: int) -> Pipeline:
    preprocess = ColumnTransformer(
        [
            (
                "numeric",
                SimpleImputer(strategy="constant", fill_value=FEATURE_DEFAULT),
                list(NUMERIC_COLUMNS),
            ),
            (
                "categorical",
                OneHotEncoder(
                    categories=[list(CATEGORIES[c]) for c in CATEGORICAL_COLUMNS],
                    handle_unknown="ignore",
                    sparse_output=False,
                ),
                list(CATEGORICAL_COLUMNS),
            ),
        ]
    )
    classifier = HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **params.as_dict())
    return Pipeline([("preprocess", preprocess), ("classifier", classifier)])


def train_model(training_set: pd.DataFrame, params: TrainParams, seed: int, shuffle_labels: bool = False) -> Pipeline:
    """Fit on the model input columns. `shuffle_labels` trains a deliberately useless model (gate tests)."""
    labels = training_set[IS_FRAUD].to_numpy()
    if shuffle_labels:
        labels = np.random.default_rng(seed).permutation(labels)
    model = build_model(params, seed)
    model.fit(training_set[list(MODEL_INPUT_COLUMNS)], labels)
    logger.info("trained on %d rows (%d positive)", len(training_set), int(labels.sum()))
    return model


def fraud_scores(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Probability of fraud per row."""
    return model.predict_proba(frame[list(MODEL_INPUT_COLUMNS)])[:, 1]
