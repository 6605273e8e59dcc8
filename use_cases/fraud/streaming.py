"""The fraud use case's streamed views: velocity per card and per merchant, fresh within a second.

A stolen card is tested with a burst of small payments within minutes, then drained: an hourly refresh sees the
burst only after the card is empty. These views are kept by the stream worker as each answered transaction
arrives (`driftloop serve stream`), and replayed over the event store for training: one definition, two paths
(`pipelines.features.stream_windows`). Each row describes the entity as of its latest transaction.
"""

from __future__ import annotations

from datetime import timedelta

from pipelines.core.use_case import Aggregate
from pipelines.features.stream_windows import stream_view
from use_cases.fraud.schema import (
    AMOUNT,
    CARD_VELOCITY,
    CARD_VELOCITY_FEATURES,
    CUSTOMER_ID,
    FEATURE_HISTORY,
    MERCHANT_ID,
    MERCHANT_VELOCITY,
    MERCHANT_VELOCITY_FEATURES,
)

FIVE_MINUTES, HOUR = timedelta(minutes=5), timedelta(hours=1)

CARD_VELOCITY_VIEW = stream_view(
    CARD_VELOCITY,
    "customer",
    CUSTOMER_ID,
    [
        ("txn_count_5m", Aggregate("count", FIVE_MINUTES), "the card's transactions in the 5 minutes up to its latest"),
        ("amount_sum_5m", Aggregate("sum", FIVE_MINUTES, AMOUNT), "their total amount"),
        ("txn_count_1h", Aggregate("count", HOUR), "the card's transactions in the hour up to its latest"),
        ("amount_sum_1h", Aggregate("sum", HOUR, AMOUNT), "their total amount"),
        ("distinct_merchants_1h", Aggregate("distinct", HOUR, MERCHANT_ID), "merchants among them"),
        (
            "seconds_since_previous",
            Aggregate("gap", HOUR),
            "seconds between the card's latest transaction and the one before (3600: none within the hour)",
        ),
    ],
    ttl=FEATURE_HISTORY,
    description="Per-card velocity as of its latest transaction, pushed by the stream worker within a second.",
)

MERCHANT_VELOCITY_VIEW = stream_view(
    MERCHANT_VELOCITY,
    "merchant",
    MERCHANT_ID,
    [
        (
            "txn_count_5m",
            Aggregate("count", FIVE_MINUTES),
            "the merchant's transactions in the 5 minutes up to its latest",
        ),
        ("amount_sum_5m", Aggregate("sum", FIVE_MINUTES, AMOUNT), "their total amount"),
        ("txn_count_1h", Aggregate("count", HOUR), "the merchant's transactions in the hour up to its latest"),
        ("amount_sum_1h", Aggregate("sum", HOUR, AMOUNT), "their total amount"),
    ],
    ttl=FEATURE_HISTORY,
    description="Per-merchant velocity as of its latest transaction, pushed by the stream worker within a second.",
)

STREAM_VIEWS = (CARD_VELOCITY_VIEW, MERCHANT_VELOCITY_VIEW)
assert tuple(f.name for f in CARD_VELOCITY_VIEW.features) == CARD_VELOCITY_FEATURES
assert tuple(f.name for f in MERCHANT_VELOCITY_VIEW.features) == MERCHANT_VELOCITY_FEATURES
