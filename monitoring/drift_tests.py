"""Which test decides that a column drifted, and at what threshold: judged against the window's real sample.

Every numeric column is compared with Evidently's normalised Wasserstein distance, a category with the
Jensen-Shannon distance. A fixed threshold cries wolf on entity-level features: 600 answers in a window come
from a few hundred entities of one kind and a few dozen of another, and an entity's 7-day mean is one value
however many of its events are in the window. The noise in the distance falls with the square root of the number of
independent values, so each column's threshold is `NOISE_MULTIPLE / sqrt(n)`, where n is the number of
distinct entities behind the column in this window (the entity keys of the feature's view, or the rows
themselves for per-event columns), and never below Evidently's own 0.1. `NOISE_MULTIPLE` is calibrated by
`make bench` (bench/drift_alarms.py): healthy windows flag at most one column in 95% of windows, drifted
windows trigger in 95%.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from pipelines.core.use_case import UseCase, feature_column

NUMERIC_METHOD = "wasserstein"
CATEGORICAL_METHOD = "jensenshannon"
THRESHOLD_FLOOR = 0.1
CATEGORICAL_THRESHOLD = 0.1
NOISE_MULTIPLE = 3.5


def entity_keys_of_features(use_case: UseCase) -> dict[str, str]:
    """Each feature column's entity key column (a view's features are one value per entity)."""
    return {
        feature_column(view.name, feature.name): use_case.key_of(view.name)
        for view in use_case.views
        for feature in view.features
    }


def independent_values(current: pd.DataFrame, column: str, entity_of: Mapping[str, str]) -> int:
    """How many independent values the window holds for a column: distinct entities for an entity-level
    feature (when the window names its entities), else its rows."""
    entity = entity_of.get(column)
    if entity is not None and entity in current.columns:
        return max(1, int(current[entity].nunique()))
    return max(1, len(current))


def column_thresholds(
    current: pd.DataFrame, numeric: list[str], categorical: list[str], entity_of: Mapping[str, str]
) -> dict[str, float]:
    thresholds = {column: CATEGORICAL_THRESHOLD for column in categorical}
    for column in numeric:
        noise = NOISE_MULTIPLE / math.sqrt(independent_values(current, column, entity_of))
        thresholds[column] = round(max(THRESHOLD_FLOOR, noise), 4)
    return thresholds


def column_methods(numeric: list[str], categorical: list[str]) -> dict[str, str]:
    return {**dict.fromkeys(numeric, NUMERIC_METHOD), **dict.fromkeys(categorical, CATEGORICAL_METHOD)}
