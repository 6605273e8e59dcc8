"""Everything `driftloop features apply` registers for a use case, in one list."""

from __future__ import annotations

from feast import Entity, FeatureView, FileSource, PushSource

from feature_repo.data_sources import offline_source, push_source
from feature_repo.entities import feast_entities
from feature_repo.feature_views import feature_view
from pipelines.core.use_case import UseCase


def registry_objects(
    use_case: UseCase, offline_root: str | None = None, endpoint: str | None = None
) -> list[Entity | FileSource | PushSource | FeatureView]:
    """The use case's entities, its views' offline sources (under `offline_root`, an `s3://` prefix, or the
    repo path when None), a push source over each streamed view's, and the feature views over them."""
    entities = feast_entities(use_case)
    sources = {view.name: offline_source(view, offline_root, endpoint) for view in use_case.views}
    pushes = {view.name: push_source(view, sources[view.name]) for view in use_case.views if view.streamed}
    views = [
        feature_view(use_case, view, pushes.get(view.name, sources[view.name]), entities[view.entity])
        for view in use_case.views
    ]
    return [*entities.values(), *sources.values(), *pushes.values(), *views]
