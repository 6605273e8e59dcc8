"""Feast's own online-store read of a use case's feature views, into one float64 matrix (a row per feature column).

The same code `FeatureStore.get_online_features` runs for the store read (Feast's registry resolution, its entity
key protos and serialisation, its store's `online_read`), without what that call adds around it: each request
row's entity values turned into protobuf, every view's answer fanned out into a response proto, typed, and then
read back value by value: half of our lookup's time for one transaction, two fifths for a hundred
(bench/features.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from feast import FeatureStore, FeatureView
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.repo_config import RepoConfig

logger = logging.getLogger(__name__)

NUMERIC_VALUE_KINDS = frozenset({"double_val", "float_val", "int64_val", "int32_val", "bool_val"})
MISSING_VALUE_KINDS = frozenset({None, "null_val"})

StoreRow = tuple[datetime | None, dict[str, "Value"] | None]  # what an online store's `online_read` returns per key


@dataclass(frozen=True)
class ViewRead:
    """One feature view as Feast resolved it for our feature references.

    Attributes:
        view: the registry's `FeatureView` (with its projection), what the online store reads.
        features: the feature names asked of it, in Feast's order.
        join_keys: the request columns that make up its entity key.
        rows: the matrix row of each of `features` (our full column names, `view__feature`).
    """

    view: FeatureView
    features: tuple[str, ...]
    join_keys: tuple[str, ...]
    rows: tuple[int, ...]


@dataclass(frozen=True)
class ReadPlan:
    """Our references resolved by Feast against one version of its registry.

    Attributes:
        views: one `ViewRead` per feature view the references name.
        key_types: each join key's Feast value type (how Feast turns an entity id into its proto).
        registry_version: when the registry's cache was loaded; a later load means resolving again.
    """

    views: tuple[ViewRead, ...]
    key_types: Mapping[str, Any]
    registry_version: datetime | None

    @classmethod
    def resolve(cls, store: FeatureStore, refs: Sequence[str], columns: Sequence[str]) -> ReadPlan:
        """Feast's own resolution (`get_online_features` runs the same): the views' lifecycle states and the
        registry's cache rules apply, and an unknown reference fails as it does there."""
        from feast import utils

        registry = store.registry
        context = utils._get_online_request_context(registry, store.project, list(refs), True)
        _, on_demand, join_key_of, key_types, _, grouped, _, _, entityless = context
        if on_demand or entityless:
            raise ValueError(f"{list(refs)} name on-demand or entityless views; ours are plain feature views")
        position = {column: index for index, column in enumerate(columns)}
        views = tuple(
            ViewRead(
                view=view,
                features=tuple(features),
                join_keys=tuple(join_key_of[entity] for entity in view.entities),
                rows=tuple(position[f"{view.projection.name_to_use()}__{name}"] for name in features),
            )
            for view, features in grouped
        )
        return cls(views, dict(key_types), getattr(registry, "cached_registry_proto_created", None))

    def current(self, store: FeatureStore) -> bool:
        """Whether Feast would still answer from this resolution: its registry cache is valid and unreloaded
        (the rule of Feast's own resolution cache, `utils._get_cached_request_context`)."""
        registry = store.registry
        return (
            self.registry_version is not None
            and registry.is_cache_valid()
            and getattr(registry, "cached_registry_proto_created", None) == self.registry_version
        )


@dataclass(frozen=True)
class KeyedRead:
    """One view's read for a batch: the unique entity keys asked, and the batch row each answer goes to."""

    view: ViewRead
    entity_keys: list[EntityKey]
    inverse: np.ndarray  # for each batch row, its position among `entity_keys`


class StoreReads(Protocol):
    """Reads views' rows from Feast's online store: one list of `StoreRow` per `KeyedRead`, in order."""

    def __call__(self, config: RepoConfig, reads: Sequence[KeyedRead]) -> list[list[StoreRow]]: ...


@dataclass(frozen=True)
class OnlineReadPerView:
    """Any online store: its `online_read`, view by view (SQLite's is one SELECT per view)."""

    online_store: Any

    def __call__(self, config: RepoConfig, reads: Sequence[KeyedRead]) -> list[list[StoreRow]]:
        return [
            self.online_store.online_read(config, read.view.view, read.entity_keys, list(read.view.features))
            for read in reads
        ]


@dataclass(frozen=True)
class RedisPipelineRead:
    """Redis: every view's HMGETs in one pipeline, built and decoded by Feast's Redis store as its own
    `get_online_features` does (`RedisOnlineStore._read_features_per_fv`). Its `online_read`, view by view, costs
    a round trip per view: slower than Feast's call for one transaction."""

    online_store: Any

    def __call__(self, config: RepoConfig, reads: Sequence[KeyedRead]) -> list[list[StoreRow]]:
        from feast.infra.online_stores.redis import _versioned_fv_name

        store = self.online_store
        commands: list[tuple[bytes, list[str | bytes]]] = []
        spans: list[tuple[str, list[str], int]] = []
        for read in reads:
            name = _versioned_fv_name(read.view.view, config)
            asked, fields = store._generate_hset_keys_for_features(
                read.view.view, list(read.view.features), fv_name_override=name
            )
            keys = store._generate_redis_keys_for_entities(config, read.entity_keys)
            commands += [(key, fields) for key in keys]
            spans.append((name, asked, len(keys)))
        replies = store._read_hash_fields(config, commands)
        rows, start = [], 0
        for name, asked, count in spans:
            rows.append(store._convert_redis_values_to_protobuf(replies[start : start + count], name, asked))
            start += count
        return rows


def store_reads(store: FeatureStore) -> StoreReads:
    """How this store's online store is read: the one place its type picks a reader."""
    from feast.infra.online_stores.redis import RedisOnlineStore

    online_store = store._get_provider().online_store
    if isinstance(online_store, RedisOnlineStore):
        return RedisPipelineRead(online_store)
    return OnlineReadPerView(online_store)


def keyed_reads(plan: ReadPlan, entity_ids: Mapping[str, np.ndarray]) -> list[KeyedRead]:
    """Each view's unique entity keys (Feast reads each once too) as Feast builds them: its value protos of the
    join keys' types; views on the same join keys share them."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.type_map import python_values_to_proto_values

    by_keys: dict[tuple[str, ...], tuple[list[EntityKey], np.ndarray]] = {}
    reads = []
    for view in plan.views:
        if view.join_keys not in by_keys:
            # A dict keeps first-seen order and costs less than np.unique for the few ids of a request.
            position: dict[tuple[Any, ...], int] = {}
            rows = zip(*(np.asarray(entity_ids[key]).tolist() for key in view.join_keys), strict=True)
            inverse = np.fromiter((position.setdefault(row, len(position)) for row in rows), dtype=np.intp)
            protos = [
                python_values_to_proto_values(list(values), plan.key_types[key])
                for key, values in zip(view.join_keys, zip(*position, strict=True), strict=True)
            ]
            keys = [EntityKey(join_keys=view.join_keys, entity_values=values) for values in zip(*protos, strict=True)]
            by_keys[view.join_keys] = keys, inverse
        keys, inverse = by_keys[view.join_keys]
        reads.append(KeyedRead(view, keys, inverse))
    return reads


def fill_matrix(matrix: np.ndarray, read: KeyedRead, rows: Sequence[StoreRow]) -> None:
    """The view's values into its rows of `matrix` (NaN stays where the store has none), fanned out to the
    batch rows of each unique key."""
    features = read.view.features
    block = np.full((len(features), len(rows)), np.nan)
    for position, (_, values) in enumerate(rows):
        if values is None:
            continue
        for index, name in enumerate(features):
            value = values.get(name)
            if value is None:
                continue
            kind = value.WhichOneof("val")
            if kind in NUMERIC_VALUE_KINDS:
                block[index, position] = getattr(value, kind)
            elif kind not in MISSING_VALUE_KINDS:
                raise TypeError(f"feature {read.view.view.name}:{name} holds {kind}; the views define numbers only")
    matrix[list(read.view.rows)] = block[:, read.inverse]
