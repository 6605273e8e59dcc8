"""Which test decides that a column drifted, and at what threshold: judged against the window's real sample.

Every numeric column is compared with Evidently's normalised Wasserstein distance, the channel with the
Jensen-Shannon distance. A fixed threshold cries wolf on entity-level features: 600 answers in a window come
from a few hundred customers and a few dozen merchants, and a merchant's 7-day mean is one value however many
of its transactions are in the window. The noise in the distance falls with the square root of the number of
independent values, so each column's threshold is `NOISE_MULTIPLE / sqrt(n)`, where n is the number of
distinct entities behind the column in this window (customers, merchants, or the rows themselves for
per-transaction columns), and never below Evidently's own 0.1. `NOISE_MULTIPLE` is calibrated by
`make bench` (bench/drift_alarms.py): healthy windows flag at most one column in 95% of windows, drifted
windows trigger in 95%.
"""

from __future__ import annotations

import math

import pandas as pd

from pipelines.data.schema import CUSTOMER_ID, MERCHANT_ID
from pipelines.features.model_input import CUSTOMER_COLUMNS, MERCHANT_COLUMNS

NUMERIC_METHOD = "wasserstein"
CATEGORICAL_METHOD = "jensenshannon"
THRESHOLD_FLOOR = 0.1
CATEGORICAL_THRESHOLD = 0.1
NOISE_MULTIPLE = 3.5
ENTITY_OF = {**dict.fromkeys(CUSTOMER_COLUMNS, CUSTOMER_ID), **dict.fromkeys(MERCHANT_COLUMNS, MERCHANT_ID)}


def independent_values(current: pd.DataFrame, column: str) -> int:
    """How many independent values the window holds for a column: distinct entities for an entity-level
    feature (when the window names its entities), else its rows."""
    entity = ENTITY_OF.get(column)
    if entity is not None and entity in current.columns:
        return max(1, int(current[entity].nunique()))
    return max(1, len(current))


def column_thresholds(current: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, float]:
    thresholds = {column: CATEGORICAL_THRESHOLD for column in categorical}
    for column in numeric:
        noise = NOISE_MULTIPLE / math.sqrt(independent_values(current, column))
        thresholds[column] = round(max(THRESHOLD_FLOOR, noise), 4)
    return thresholds


def column_methods(numeric: list[str], categorical: list[str]) -> dict[str, str]:
    return {**dict.fromkeys(numeric, NUMERIC_METHOD), **dict.fromkeys(categorical, CATEGORICAL_METHOD)}
