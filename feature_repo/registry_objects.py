"""Everything `driftloop features apply` registers, in one list."""

from feast import Entity, FeatureView, FileSource

from feature_repo.data_sources import offline_source
from feature_repo.entities import customer, merchant
from feature_repo.feature_views import feature_view
from pipelines.data.schema import VIEW_KEYS


def registry_objects(
    offline_root: str | None = None, endpoint: str | None = None
) -> list[Entity | FileSource | FeatureView]:
    """The entities, the views' offline sources (under `offline_root`, an `s3://` prefix, or the repo path when
    None) and the feature views over them."""
    sources = {view: offline_source(view, offline_root, endpoint) for view in VIEW_KEYS}
    return [customer, merchant, *sources.values(), *(feature_view(view, source) for view, source in sources.items())]
