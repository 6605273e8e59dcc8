"""Load the latest offline feature values into the online store, which serving reads."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from driftloop.features.store_config import open_feature_store
from driftloop.settings import Settings

logger = logging.getLogger(__name__)


def materialize_online(settings: Settings, end: datetime) -> None:
    """Materialise every feature view over its ttl window ending at `end` (idempotent).

    A row older than the ttl is expired for serving just as it is for training, so it is not loaded.
    """
    store = open_feature_store(settings)
    ttl = max((view.ttl for view in store.list_feature_views() if view.ttl), default=timedelta(days=7))
    store.materialize(start_date=end - ttl, end_date=end)
    logger.info("materialised feature views over (%s, %s]", (end - ttl).isoformat(), end.isoformat())
