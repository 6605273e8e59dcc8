"""Online feature lookup through Feast: the same feature views the training set was built from.

An entity the online store holds no row for gets the use case's documented default (`ModelSpec.feature_default`)
and is counted, by entity; it is never an error. The values are those Feast's `get_online_features` answers, read
through Feast's own online-store interface (`serving.online_read`). An online store that does not
answer (within `DRIFTLOOP_ONLINE_STORE_TIMEOUT_S`: `open_feature_store(serving=True)`) is `OnlineStoreDown`;
the servers then follow `DRIFTLOOP_ONLINE_STORE_DOWN_POLICY` (`features_or_policy`), and for the next second
requests are answered by the policy without asking the store (readiness's probe, or the first request after it,
asks again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.core.use_case import UseCase, feature_column
from serving import metrics
from serving.online_read import ReadPlan, fill_matrix, keyed_reads, store_reads
from serving.unavailable import Unavailable

if TYPE_CHECKING:
    from feast import FeatureStore

logger = logging.getLogger(__name__)


DEGRADED_DEFAULTS = "online_store_defaults"  # how an answer scored on default features is flagged
PROBE_EVERY_S = 1.0  # readiness asks the store at most this often


class OnlineStoreDown(Unavailable):
    """The online store did not answer (refused, timed out, failed): a 503, unless the policy says defaults."""


def _store_errors() -> tuple[type[BaseException], ...]:
    """What a store that is down raises: sockets and Redis's own errors, SQLite's for the local store."""
    import sqlite3

    errors: list[type[BaseException]] = [OSError, sqlite3.Error, TimeoutError]
    try:
        from redis.exceptions import RedisError

        errors.append(RedisError)
    except ImportError:  # pragma: no cover - redis is in the lock
        pass
    return tuple(errors)


@dataclass(frozen=True)
class Lookup:
    """Feature values for a batch (one float64 array per column), and how many rows each entity the store did
    not know (by entity name)."""

    features: dict[str, np.ndarray]
    unknown: dict[str, int]
    seconds: float
    degraded: str | None = None  # set when these are defaults standing in for a store that did not answer


class OnlineFeatures:
    """Feast online lookups of a use case's views for a batch, bounded in time, with defaults for unknown
    entities.

    The read is Feast's own (`serving.online_read`): its registry resolution, kept until Feast's registry cache
    reloads or expires, then its online store's read. Values equal what `FeatureStore.get_online_features`
    answers for the same keys, as Feast 0.67 answers them: its online read applies no ttl, so a row the store
    holds is served however old (the refresh materialises only rows within the ttl, but keeps older ones).

    Attributes:
        store: the Feast store (its registry, config and online store).
        refs: our feature references (`view:feature`); columns: their full names, the matrix's rows.
        entity_keys: the request columns holding entity ids; default: the value of a feature Feast has not.
        entity_rows: the matrix rows of each entity's features, to count the entities the store did not know.
    """

    def __init__(self, store: FeatureStore, use_case: UseCase, pause_s: float = PROBE_EVERY_S) -> None:
        self.store = store
        self.pause_s = pause_s  # after a failed read, how long requests are refused without asking the store
        self.refs = list(use_case.feature_refs)
        self.columns = use_case.feature_columns
        self.entity_keys = use_case.entity_keys
        self.default = use_case.model.feature_default
        # Which rows of the feature matrix belong to each entity (an entity with no row is unknown when all are
        # missing).
        rows: dict[str, list[int]] = {entity.name: [] for entity in use_case.entities}
        position = {column: index for index, column in enumerate(self.columns)}
        for view in use_case.views:
            rows[view.entity] += [position[feature_column(view.name, f.name)] for f in view.features]
        self.entity_rows = {name: indices for name, indices in rows.items() if indices}
        self._errors = _store_errors()
        self._probed_at = -PROBE_EVERY_S
        self._answering = True
        self._down_until = 0.0  # monotonic: until then a lookup is refused without asking the store
        self._plan: ReadPlan | None = None
        self._reads = store_reads(store)

    def _current_plan(self) -> ReadPlan:
        plan = self._plan
        if plan is None or not plan.current(self.store):
            plan = self._plan = ReadPlan.resolve(self.store, self.refs, self.columns)
        return plan

    def lookup(self, entity_ids: Mapping[str, np.ndarray]) -> Lookup:
        """Feature columns (full names, as in training) for each event, defaults filled in.

        Raises:
            OnlineStoreDown: the online store refused, failed or timed out (`DRIFTLOOP_ONLINE_STORE_TIMEOUT_S`).
        """
        return self._lookup(entity_ids, probing=False)

    def _lookup(self, entity_ids: Mapping[str, np.ndarray], probing: bool) -> Lookup:
        """The lookup; for a request (not `probing`) refused at once while the store is known to be down.

        A store that did not answer is not asked again by requests for `pause_s`: each ask of a hung store
        costs the whole timeout, and the in-process predictor asks on its event loop, so every request would
        stall health checks and the other requests for that long. After the pause one request (or readiness's
        probe) asks again; an answer closes the breaker."""
        started = time.perf_counter()
        size = len(entity_ids[self.entity_keys[0]])
        matrix = np.full((len(self.columns), size), np.nan)
        if size:
            if not probing and time.monotonic() < self._down_until:
                raise OnlineStoreDown("the online store did not answer a moment ago; not asked again yet")
            try:
                reads = keyed_reads(self._current_plan(), entity_ids)
                answers = self._reads(self.store.config, reads)
            except self._errors as error:
                self._down_until = time.monotonic() + self.pause_s
                self._answering = False
                raise OnlineStoreDown(f"the online store did not answer: {type(error).__name__}: {error}") from error
            self._down_until = 0.0
            for read, rows in zip(reads, answers, strict=True):
                fill_matrix(matrix, read, rows)
        missing = np.isnan(matrix)
        filled = np.where(missing, self.default, matrix)
        return Lookup(
            features=dict(zip(self.columns, filled, strict=True)),
            unknown={name: int(missing[rows].all(axis=0).sum()) for name, rows in self.entity_rows.items()},
            seconds=time.perf_counter() - started,
        )

    def defaults(self, rows: int) -> Lookup:
        """Every feature at its documented default, flagged: what `defaults` policy scores with."""
        columns = {column: np.full(rows, self.default, dtype=np.float64) for column in self.columns}
        return Lookup(columns, {}, 0.0, degraded=DEGRADED_DEFAULTS)

    def answering(self) -> bool:
        """Whether the store answers a one-entity read now (asked at most once per PROBE_EVERY_S: readiness)."""
        now = time.monotonic()
        if now - self._probed_at >= PROBE_EVERY_S:
            self._probed_at = now
            try:
                self._lookup({key: np.array([0]) for key in self.entity_keys}, probing=True)
                self._answering = True
            except OnlineStoreDown:
                self._answering = False
        return self._answering


def features_or_policy(features: OnlineFeatures, entity_ids: Mapping[str, np.ndarray], policy: str) -> Lookup:
    """The batch's features; when the store does not answer, the policy's answer: defaults, or the 503."""
    try:
        lookup = features.lookup(entity_ids)
    except OnlineStoreDown:
        metrics.ONLINE_STORE_FAILURES.labels(policy).inc()
        if policy == "defaults":
            return features.defaults(len(entity_ids[features.entity_keys[0]]))
        raise
    metrics.FEATURE_LOOKUP_LATENCY.observe(lookup.seconds)
    for entity, count in lookup.unknown.items():
        metrics.UNKNOWN_ENTITIES.labels(entity).inc(count)
    return lookup
