"""Feature views: what the model sees, for training (historical) and serving (online) alike.

customer_stats (entity `customer`, ttl 7 days):
    txn_count_1h: transactions in the hour before the timestamp.
    txn_count_24h: transactions in the 24 hours before.
    amount_sum_24h: total amount spent in the 24 hours before.
    amount_mean_7d: mean transaction amount over 7 days.
    amount_max_7d: largest transaction amount over 7 days.
    distinct_merchants_7d: merchants visited over 7 days.

merchant_stats (entity `merchant`, ttl 7 days):
    txn_count_24h: transactions at the merchant in the 24 hours before.
    amount_mean_7d: mean transaction amount at the merchant over 7 days.
    chargeback_rate_30d: share of the merchant's transactions over 30 days whose fraud label had
        arrived by the timestamp (labels arrive late; a label not yet known is not counted).
"""

from feast import FeatureView, Field, FileSource
from feast.types import Float32, Int64

from feature_repo.entities import customer, merchant
from pipelines.data.schema import (
    COUNT_FEATURES,
    CUSTOMER_STATS,
    FEATURE_HISTORY,
    MERCHANT_STATS,
    VIEW_FEATURES,
    VIEW_KEYS,
)

ENTITIES = {CUSTOMER_STATS: customer, MERCHANT_STATS: merchant}


def _schema(view: str) -> list[Field]:
    """The view's key and features, with the names and types `pipelines/data/schema.py` defines."""
    features = [Field(name=name, dtype=Int64 if name in COUNT_FEATURES else Float32) for name in VIEW_FEATURES[view]]
    return [Field(name=VIEW_KEYS[view], dtype=Int64), *features]


def feature_view(view: str, source: FileSource) -> FeatureView:
    """The view over its offline source (`feature_repo.data_sources`), keyed by its entity."""
    return FeatureView(
        name=view,
        entities=[ENTITIES[view]],
        ttl=FEATURE_HISTORY,
        schema=_schema(view),
        source=source,
        online=True,
        tags={"owner": "driftloop", "use_case": "fraud"},
    )
