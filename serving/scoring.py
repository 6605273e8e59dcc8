"""Scoring a validated batch: pick the model (champion or canary challenger), score, log, shadow, measure.

Shared by the predictor (features in the request, or looked up in-process) so that every path answers,
logs and counts the same way.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from pipelines.data.prediction_log_format import SERVED, SHADOW, Events, PendingRows
from serving import metrics
from serving.model_slots import ModelSlots, ServingModel
from serving.prediction_log import PredictionLog

if TYPE_CHECKING:
    from prometheus_client import Histogram

logger = logging.getLogger(__name__)


class NoChampionError(RuntimeError):
    """No model holds the `champion` alias yet: the server is up but not ready."""


@dataclass(frozen=True)
class Scored:
    """A batch's scores and the model version that answered."""

    scores: np.ndarray
    served_by: ServingModel


class Scorer:
    """Picks the answering model (champion or canary challenger), scores and logs the rows, and the shadow's."""

    def __init__(
        self,
        slots: ModelSlots,
        log: PredictionLog,
        seed: int,
        entity_keys: tuple[str, ...],
        scores_seen: Histogram,
    ) -> None:
        self.slots = slots
        self.scores_seen = scores_seen  # the served scores' histogram, with the use case's buckets
        self.log = log
        self.entity_keys = entity_keys  # the use case's: the prediction log's entity columns
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        # One worker: shadow scoring queues behind itself instead of competing with answers.
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")

    def _answering_model(self) -> tuple[ServingModel, ServingModel | None]:
        """(model that answers, model that scores in shadow or None), read once per request: the challenger
        answers its share of requests, the champion the rest, and a shadow scores a copy of each."""
        slots = self.slots
        champion, challenger, share, shadow = slots.champion, slots.challenger, slots.challenger_share, slots.shadow
        if champion is None:
            raise NoChampionError("no model holds the `champion` alias yet")
        if challenger is None or share <= 0.0:
            return champion, shadow
        with self._random_lock:
            canary = self._random.random() < share
        return (challenger if canary else champion), shadow

    def _log_rows(
        self, inputs: Mapping[str, np.ndarray], events: Events | None, scores: np.ndarray, model: ServingModel,
        role: str, request_id: str,
    ) -> None:  # fmt: skip
        # Only references and scalars on the request path; the frame is built by the log's writer thread.
        self.log.append(
            PendingRows(
                inputs, events, scores, model.version, model.alias, role, request_id, time.time(), self.entity_keys
            )
        )

    def _shadow(self, shadow: ServingModel, inputs: Mapping[str, np.ndarray], events: Events | None, rid: str) -> None:
        try:
            scores = shadow.scores(inputs)
            self._log_rows(inputs, events, scores, shadow, SHADOW, rid)
            metrics.SHADOW_PREDICTIONS.labels(shadow.version).inc(len(scores))
        except Exception:  # noqa: BLE001 - the shadow never affects the answer
            logger.exception("shadow scoring with version %s failed", shadow.version)

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True)

    def score(self, inputs: Mapping[str, np.ndarray], events: Events | None, request_id: str) -> Scored:
        """Scores for a batch of model inputs (one array per column); `events` only go to the log."""
        model, shadow = self._answering_model()
        started = time.perf_counter()
        scores = model.scores(inputs)
        self._log_rows(inputs, events, scores, model, SERVED, request_id)
        histogram = self.scores_seen.labels(model.version)
        for value in scores.tolist():
            histogram.observe(value)
        if shadow is not None:
            self._shadow_pool.submit(self._shadow, shadow, inputs, events, request_id)
        logger.debug(
            "scored %d rows with version %s in %.4fs", len(scores), model.version, time.perf_counter() - started
        )
        return Scored(scores, model)
