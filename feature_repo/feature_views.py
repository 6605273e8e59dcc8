"""Feature views: what the model sees, for training (historical) and serving (online) alike.

Each view is declared by the use case (`FeatureView`: its entity, features and their types, ttl); here it
becomes Feast's, keyed by its entity's join key, over its offline source, served online.
"""

from __future__ import annotations

from feast import Entity, FeatureView, Field, FileSource, PushSource
from feast.types import Float32, Float64, Int64

from pipelines.core.use_case import FeatureView as DeclaredView
from pipelines.core.use_case import UseCase

FEAST_TYPES = {"int64": Int64, "float32": Float32, "float64": Float64}


def feature_view(use_case: UseCase, view: DeclaredView, source: FileSource | PushSource, entity: Entity) -> FeatureView:
    """The declared view over its source (a streamed view's is its push source, over the offline table), keyed by
    its entity."""
    schema = [
        Field(name=use_case.key_of(view.name), dtype=Int64),
        *(Field(name=feature.name, dtype=FEAST_TYPES[feature.dtype]) for feature in view.features),
    ]
    return FeatureView(
        name=view.name,
        entities=[entity],
        ttl=view.ttl,
        schema=schema,
        source=source,
        online=True,
        tags={"owner": "driftloop", "use_case": use_case.name},
    )
