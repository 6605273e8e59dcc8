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

from datetime import timedelta

from feast import FeatureView, Field
from feast.types import Float32, Int64

from feature_repo.data_sources import customer_stats_source, merchant_stats_source
from feature_repo.entities import customer, merchant

customer_stats = FeatureView(
    name="customer_stats",
    entities=[customer],
    ttl=timedelta(days=7),
    schema=[
        Field(name="customer_id", dtype=Int64),
        Field(name="txn_count_1h", dtype=Int64),
        Field(name="txn_count_24h", dtype=Int64),
        Field(name="amount_sum_24h", dtype=Float32),
        Field(name="amount_mean_7d", dtype=Float32),
        Field(name="amount_max_7d", dtype=Float32),
        Field(name="distinct_merchants_7d", dtype=Int64),
    ],
    source=customer_stats_source,
    online=True,
    tags={"owner": "driftloop", "use_case": "fraud"},
)

merchant_stats = FeatureView(
    name="merchant_stats",
    entities=[merchant],
    ttl=timedelta(days=7),
    schema=[
        Field(name="merchant_id", dtype=Int64),
        Field(name="txn_count_24h", dtype=Int64),
        Field(name="amount_mean_7d", dtype=Float32),
        Field(name="chargeback_rate_30d", dtype=Float32),
    ],
    source=merchant_stats_source,
    online=True,
    tags={"owner": "driftloop", "use_case": "fraud"},
)
