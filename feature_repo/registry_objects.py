"""Everything `driftloop features apply` registers, in one list."""

from feast import Entity, FeatureView, FileSource

from feature_repo.data_sources import customer_stats_source, merchant_stats_source
from feature_repo.entities import customer, merchant
from feature_repo.feature_views import customer_stats, merchant_stats

ALL_OBJECTS: list[Entity | FileSource | FeatureView] = [
    customer,
    merchant,
    customer_stats_source,
    merchant_stats_source,
    customer_stats,
    merchant_stats,
]
