"""The skew check's arithmetic: which served vectors differ from the offline ones, by column."""

from __future__ import annotations

import numpy as np
import pandas as pd

from monitoring.skew import compare_vectors
from use_cases.fraud.schema import FEATURE_VIEW_COLUMNS


def _vectors(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 50, size=(rows, len(FEATURE_VIEW_COLUMNS))).astype("float32").astype("float64")
    frame = pd.DataFrame(values, columns=list(FEATURE_VIEW_COLUMNS))
    return frame.assign(event_id=[f"e{i}" for i in range(rows)])


def test_equal_vectors_have_no_skew_and_defaults_match_missing_values() -> None:
    served = _vectors(20)
    offline = served.sample(frac=1.0, random_state=1).copy()  # order does not matter, ids do
    served.loc[3, FEATURE_VIEW_COLUMNS[0]] = 0.0  # served the default for an unknown entity...
    offline.loc[3, FEATURE_VIEW_COLUMNS[0]] = np.nan  # ...where training has no row either
    result = compare_vectors(served, offline, FEATURE_VIEW_COLUMNS, default=0.0)
    assert (result.rows, result.mismatched_rows, result.share, result.columns) == (20, 0, 0.0, {})


def test_a_changed_value_is_caught_and_named() -> None:
    served = _vectors(10)
    offline = served.copy()
    column = "customer_stats__txn_count_24h"
    served.loc[[2, 5], column] += 1
    served.loc[5, "merchant_stats__amount_mean_7d"] *= 1.001
    offline.loc[7, "customer_stats__amount_max_7d"] = np.nan  # training sees nothing where serving saw a value
    result = compare_vectors(served, offline, FEATURE_VIEW_COLUMNS, default=0.0)
    assert result.mismatched_rows == 3 and result.share == 0.3
    assert result.columns == {column: 2, "merchant_stats__amount_mean_7d": 1, "customer_stats__amount_max_7d": 1}
    assert result.examples == ["e2", "e5", "e7"]
