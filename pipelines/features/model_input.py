"""The model's input columns, in one place, so training and serving build the same frame.

Feature view values come from Feast with full names (`customer_stats__txn_count_1h`); request-time
fields (amount, channel) come with the transaction. A missing feature value (an entity Feast has never
seen, or a first transaction) is NaN here; the model pipeline imputes the documented default (0).
"""

from __future__ import annotations

from pipelines.data.schema import (
    AMOUNT,
    CHANNEL,
    CHANNELS,
    CUSTOMER_FEATURES,
    CUSTOMER_STATS,
    MERCHANT_FEATURES,
    MERCHANT_STATS,
)


def feature_column(view: str, feature: str) -> str:
    """A feature's column in the model input and the training set: Feast's full feature name."""
    return f"{view}__{feature}"


CUSTOMER_COLUMNS = tuple(feature_column(CUSTOMER_STATS, name) for name in CUSTOMER_FEATURES)
MERCHANT_COLUMNS = tuple(feature_column(MERCHANT_STATS, name) for name in MERCHANT_FEATURES)
FEATURE_VIEW_COLUMNS = CUSTOMER_COLUMNS + MERCHANT_COLUMNS
NUMERIC_COLUMNS = (AMOUNT, *FEATURE_VIEW_COLUMNS)
CATEGORICAL_COLUMNS = (CHANNEL,)
MODEL_INPUT_COLUMNS = NUMERIC_COLUMNS + CATEGORICAL_COLUMNS
CATEGORIES = {CHANNEL: CHANNELS}
# What an unknown entity's features default to: no history means zero activity.
FEATURE_DEFAULT = 0.0
