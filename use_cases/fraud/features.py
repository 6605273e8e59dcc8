"""Rolling per-customer and per-merchant features of the fraud use case, on the platform's hourly grid
(`pipelines.features.rolling`: point-in-time correct by construction).

customer_stats (entity `customer`, ttl 7 days): transactions in the last hour and day, the amount spent in
the last day, the mean and largest amount over 7 days, the merchants visited over 7 days. merchant_stats
(entity `merchant`, ttl 7 days): transactions in the last day, the mean amount over 7 days, and the share of
its transactions over 30 days whose fraud label had arrived by the timestamp (a verdict withdrawn later stops
counting from then on)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd

from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP, UNTIL
from pipelines.features.rolling import (
    D_7,
    D_30,
    H_1,
    H_24,
    Grid,
    active_intervals,
    bucketed,
    changed_rows,
    safe_ratio,
    window_max,
    window_sum,
)
from use_cases.fraud.schema import AMOUNT, CUSTOMER_ID, IS_FRAUD, MERCHANT_ID


def compute_customer_stats(events: pd.DataFrame, start: datetime, end: datetime, computed_at: datetime) -> pd.DataFrame:
    """customer_stats rows stamped in [start, end] (see feature_repo/feature_views.py)."""
    times = events[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    grid = Grid(times, end)
    entity, entity_ids = pd.factorize(events[CUSTOMER_ID].to_numpy(), sort=True)
    n = len(entity_ids)
    buckets = grid.bucket(times)
    amounts = events[AMOUNT].to_numpy(dtype=np.float64)
    count = bucketed(grid, entity, buckets, np.ones(len(events)), n)
    total = bucketed(grid, entity, buckets, amounts, n)
    largest = grid.matrix(n)
    np.maximum.at(largest, (entity, buckets), amounts)

    # distinct merchants over 7 days: an event counts until 7 days pass or the same merchant recurs.
    pairs = pd.DataFrame({"e": entity, "m": events[MERCHANT_ID].to_numpy(), "t": times, "b": buckets})
    pairs = pairs.sort_values(["e", "m", "t"], kind="stable")
    next_time = pairs.groupby(["e", "m"], sort=False)["t"].shift(-1)
    next_bucket = np.where(
        next_time.isna(), np.iinfo(np.int64).max, grid.bucket(next_time.fillna(0).to_numpy(np.int64))
    )
    first = pairs["b"].to_numpy() + 1
    last = np.minimum(pairs["b"].to_numpy() + D_7, next_bucket)
    distinct = active_intervals(grid, pairs["e"].to_numpy(), first, last, n)

    count_7d = window_sum(count, D_7)
    features = {
        "txn_count_1h": (window_sum(count, H_1), "int64"),
        "txn_count_24h": (window_sum(count, H_24), "int64"),
        "amount_sum_24h": (window_sum(total, H_24), "float32"),
        "amount_mean_7d": (safe_ratio(window_sum(total, D_7), count_7d), "float32"),
        "amount_max_7d": (window_max(largest, D_7), "float32"),
        "distinct_merchants_7d": (distinct, "int64"),
    }
    return changed_rows(grid, np.asarray(entity_ids), CUSTOMER_ID, features, start, end, computed_at)


def compute_merchant_stats(
    events: pd.DataFrame, labels: pd.DataFrame, start: datetime, end: datetime, computed_at: datetime
) -> pd.DataFrame:
    """merchant_stats rows stamped in [start, end]; a fraud label counts once it has arrived, and until it was
    withdrawn when `labels` are fraud spans (with UNTIL)."""
    times = events[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    grid = Grid(times, end)
    entity, entity_ids = pd.factorize(events[MERCHANT_ID].to_numpy(), sort=True)
    n = len(entity_ids)
    buckets = grid.bucket(times)
    count = bucketed(grid, entity, buckets, np.ones(len(events)), n)
    total = bucketed(grid, entity, buckets, events[AMOUNT].to_numpy(dtype=np.float64), n)

    spans = [EVENT_ID, LABEL_TIMESTAMP, *([UNTIL] if UNTIL in labels else [])]
    frauds = pd.DataFrame({EVENT_ID: events[EVENT_ID].to_numpy(), "e": entity, "b": buckets}).merge(
        labels.loc[labels[IS_FRAUD] == 1, spans], on=EVENT_ID, how="inner"
    )
    label_bucket = grid.bucket(frauds[LABEL_TIMESTAMP].to_numpy(dtype="datetime64[ns]").astype(np.int64))
    first = np.maximum(frauds["b"].to_numpy(), label_bucket) + 1
    last = frauds["b"].to_numpy() + D_30
    if UNTIL in frauds:  # a verdict withdrawn later stops counting from then on, never before (fraud_spans)
        withdrawn = frauds[UNTIL].notna().to_numpy()
        until = frauds.loc[withdrawn, UNTIL].to_numpy(dtype="datetime64[ns]").astype(np.int64)
        last[withdrawn] = np.minimum(last[withdrawn], grid.bucket(until))
    known_chargebacks = active_intervals(grid, frauds["e"].to_numpy(), first, last, n)

    features = {
        "txn_count_24h": (window_sum(count, H_24), "int64"),
        "amount_mean_7d": (safe_ratio(window_sum(total, D_7), window_sum(count, D_7)), "float32"),
        "chargeback_rate_30d": (safe_ratio(known_chargebacks, window_sum(count, D_30)), "float32"),
    }
    return changed_rows(grid, np.asarray(entity_ids), MERCHANT_ID, features, start, end, computed_at)
