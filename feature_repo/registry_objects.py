"""Everything `driftloop features apply` registers for a use case, in one list."""

from __future__ import annotations

from feast import Entity, FeatureView, FileSource

from feature_repo.data_sources import offline_source
from feature_repo.entities import feast_entities
from feature_repo.feature_views import feature_view
from pipelines.core.use_case import UseCase


def registry_objects(
    use_case: UseCase, offline_root: str | None = None, endpoint: str | None = None
) -> list[Entity | FileSource | FeatureView]:
    """The use case's entities, its views' offline sources (under `offline_root`, an `s3://` prefix, or the
    repo path when None) and the feature views over them."""
    entities = feast_entities(use_case)
    sources = {view.name: offline_source(view, offline_root, endpoint) for view in use_case.views}
    views = [feature_view(use_case, view, sources[view.name], entities[view.entity]) for view in use_case.views]
    return [*entities.values(), *sources.values(), *views]
