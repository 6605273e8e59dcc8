"""Online feature lookup through Feast: the same feature views the training set was built from.

An entity Feast has never seen (or whose features expired with the view's ttl) gets the documented
default (`FEATURE_DEFAULT`, zero activity) and is counted; it is never an error.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from pipelines.model_input import CUSTOMER_COLUMNS, FEATURE_DEFAULT, MERCHANT_COLUMNS
from pipelines.schema import CUSTOMER_ID, FEATURE_REFS, MERCHANT_ID

if TYPE_CHECKING:
    from feast import FeatureStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lookup:
    """Feature values for a batch, and which entities were unknown to the online store."""

    features: pd.DataFrame
    unknown_customers: int
    unknown_merchants: int
    seconds: float


class OnlineFeatures:
    def __init__(self, store: FeatureStore) -> None:
        self.store = store

    def lookup(self, transactions: pd.DataFrame) -> Lookup:
        """Feature columns (full names, as in training) for each transaction row, defaults filled in."""
        started = time.perf_counter()
        rows: list[dict[str, Any]] = [
            {CUSTOMER_ID: int(c), MERCHANT_ID: int(m)}
            for c, m in zip(transactions[CUSTOMER_ID], transactions[MERCHANT_ID], strict=True)
        ]
        values = self.store.get_online_features(
            features=list(FEATURE_REFS), entity_rows=rows, full_feature_names=True
        ).to_dict()
        frame = pd.DataFrame({column: values[column] for column in CUSTOMER_COLUMNS + MERCHANT_COLUMNS})
        frame = frame.astype("float64")
        unknown_customers = int(frame[list(CUSTOMER_COLUMNS)].isna().all(axis=1).sum())
        unknown_merchants = int(frame[list(MERCHANT_COLUMNS)].isna().all(axis=1).sum())
        return Lookup(
            features=frame.fillna(FEATURE_DEFAULT),
            unknown_customers=unknown_customers,
            unknown_merchants=unknown_merchants,
            seconds=time.perf_counter() - started,
        )
