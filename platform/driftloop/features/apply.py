"""Register the active use case's Feast definitions (`feature_repo/`) with the Feast registry (what `feast apply`
does)."""

from __future__ import annotations

import logging

from pipelines.core.settings import Settings
from pipelines.core.use_case import load_use_case
from pipelines.data.storage import feature_data_folder
from pipelines.features.offline_store import adopt_single_file_tables
from pipelines.features.store import open_feature_store, use_write_ahead_log, write_feature_store_yaml

logger = logging.getLogger(__name__)


def apply_feature_repo(settings: Settings) -> list[str]:
    """Apply every entity, source and feature view; returns the names registered. Idempotent."""
    from feature_repo.registry_objects import registry_objects  # lazy: pulls feast

    use_case = load_use_case(settings.use_case)
    feature_data = feature_data_folder(settings)
    if not feature_data.remote:
        (feature_data.local_path / "offline").mkdir(parents=True, exist_ok=True)
        adopt_single_file_tables(feature_data, use_case)  # the sources now name folders of parts
    write_feature_store_yaml(settings)
    store = open_feature_store(settings)
    objects = registry_objects(use_case, feature_data.url if feature_data.remote else None, feature_data.endpoint)
    store.apply(list(objects))  # a fresh list: feast types its parameter invariantly
    use_write_ahead_log(settings)
    names = [obj.name for obj in objects]
    logger.info("applied %d Feast objects to project %s", len(names), settings.feast_project)
    return names
