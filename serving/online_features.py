"""Online feature lookup through Feast: the same feature views the training set was built from.

An entity Feast has never seen (or whose features expired with the view's ttl) gets the documented
default (`FEATURE_DEFAULT`, zero activity) and is counted; it is never an error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.model_input import CUSTOMER_COLUMNS, FEATURE_DEFAULT, FEATURE_VIEW_COLUMNS
from pipelines.schema import CUSTOMER_ID, FEATURE_REFS, MERCHANT_ID

if TYPE_CHECKING:
    from feast import FeatureStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    """Feature values for a batch (one float64 array per column), and which entities the store did not know."""

    features: dict[str, np.ndarray]
    unknown_customers: int
    unknown_merchants: int
    seconds: float


class OnlineFeatures:
    def __init__(self, store: FeatureStore) -> None:
        self.store = store
        self.refs = list(FEATURE_REFS)

    def lookup(self, customer_ids: np.ndarray, merchant_ids: np.ndarray) -> Lookup:
        """Feature columns (full names, as in training) for each transaction, defaults filled in.

        One columnar call to Feast for the batch (no per-row dicts) and arrays out of its answer."""
        started = time.perf_counter()
        keys = {CUSTOMER_ID: customer_ids.tolist(), MERCHANT_ID: merchant_ids.tolist()}
        values = self.store.get_online_features(features=self.refs, entity_rows=keys, full_feature_names=True).to_dict()
        matrix = np.array([values[column] for column in FEATURE_VIEW_COLUMNS], dtype=np.float64)  # None -> NaN
        missing = np.isnan(matrix)
        filled = np.where(missing, FEATURE_DEFAULT, matrix)
        customers = len(CUSTOMER_COLUMNS)
        return Lookup(
            features=dict(zip(FEATURE_VIEW_COLUMNS, filled, strict=True)),
            unknown_customers=int(missing[:customers].all(axis=0).sum()),
            unknown_merchants=int(missing[customers:].all(axis=0).sum()),
            seconds=time.perf_counter() - started,
        )
