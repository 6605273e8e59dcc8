"""Synthetic model inputs for tests that need a fitted model but not the platform."""

from __future__ import annotations

import numpy as np
import pandas as pd

from use_cases.fraud.schema import AMOUNT, CATEGORICAL_COLUMNS, CHANNELS, FEATURE_VIEW_COLUMNS, IS_FRAUD


def model_input_frame(rows: int, seed: int) -> pd.DataFrame:
    """Model inputs with missing feature values and every channel; fraud depends on amount and velocity."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({column: rng.gamma(2.0, 3.0, rows) for column in FEATURE_VIEW_COLUMNS})
    frame[AMOUNT] = rng.lognormal(3.5, 1.2, rows)
    frame = frame.mask(rng.random(frame.shape) < 0.05)  # entities the store did not know
    frame[AMOUNT] = frame[AMOUNT].fillna(20.0)
    frame[CATEGORICAL_COLUMNS[0]] = rng.choice(list(CHANNELS), rows)
    risk = 0.02 * frame[AMOUNT].to_numpy() + frame[FEATURE_VIEW_COLUMNS[0]].fillna(0).to_numpy()
    frame[IS_FRAUD] = (risk + rng.normal(0, 2, rows) > np.quantile(risk, 0.9)).astype(int)
    return frame
