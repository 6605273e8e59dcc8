"""The use case's entities as Feast entities: one int64 join key each (the contract's rule for keys)."""

from __future__ import annotations

from feast import Entity, ValueType

from pipelines.core.use_case import UseCase


def feast_entities(use_case: UseCase) -> dict[str, Entity]:
    """Each declared entity by its name."""
    return {
        entity.name: Entity(
            name=entity.name, join_keys=[entity.key], value_type=ValueType.INT64, description=entity.description
        )
        for entity in use_case.entities
    }
