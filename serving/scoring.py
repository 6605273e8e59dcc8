"""Scoring a validated batch: pick the model (champion, canary or shadow challenger), score, log, measure.

Shared by the predictor (features in the request, or looked up in-process) so that every path answers,
logs and counts the same way.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.model_input import MODEL_INPUT_COLUMNS
from pipelines.prediction_log_format import LOGGED_AT, ROLE
from pipelines.schema import CUSTOMER_ID, EVENT_ID, EVENT_TIMESTAMP, MERCHANT_ID
from serving import metrics
from serving.model_slots import ModelSlots, ServingModel
from serving.prediction_log import PredictionLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingRows:
    """One request's answered rows, as the request left them; the log's writer builds the rows later."""

    features: pd.DataFrame
    entities: pd.DataFrame | None
    scores: np.ndarray
    model_version: str
    model_alias: str
    role: str
    request_id: str
    logged_at: float

    @classmethod
    def batch_frame(cls, batch: Sequence[PendingRows]) -> pd.DataFrame:
        """The log rows of many requests at once.

        One concat and a few array joins, instead of a frame per request: the writer thread holds the GIL
        a fraction as long, which is what kept the server's p99 high while it flushed.
        """
        lengths = [len(item.scores) for item in batch]
        rows = pd.concat([item.features for item in batch], ignore_index=True)[list(MODEL_INPUT_COLUMNS)].copy()
        for column in (CUSTOMER_ID, MERCHANT_ID):
            rows[column] = np.concatenate(
                [
                    item.entities[column].to_numpy(dtype=np.int64) if item.entities is not None else np.full(n, -1)
                    for item, n in zip(batch, lengths, strict=True)
                ]
            )
        event_ids = [
            item.entities[EVENT_ID].to_numpy(dtype=object)
            if item.entities is not None and EVENT_ID in item.entities
            else np.full(n, None, dtype=object)
            for item, n in zip(batch, lengths, strict=True)
        ]
        rows[EVENT_ID] = pd.array(np.concatenate(event_ids), dtype="string")
        received = [
            item.entities[EVENT_TIMESTAMP].to_numpy(dtype="datetime64[ns]")
            if item.entities is not None and EVENT_TIMESTAMP in item.entities
            else np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
            for item, n in zip(batch, lengths, strict=True)
        ]
        rows[EVENT_TIMESTAMP] = pd.to_datetime(np.concatenate(received), utc=True)
        rows["prediction"] = np.concatenate([item.scores for item in batch]).astype(np.float64)

        def per_row(values: list[object]) -> np.ndarray:
            return np.repeat(np.array(values, dtype=object), lengths)

        rows["model_version"] = per_row([item.model_version for item in batch])
        rows["model_alias"] = per_row([item.model_alias for item in batch])
        rows[ROLE] = per_row([item.role for item in batch])
        rows["request_id"] = per_row([item.request_id for item in batch])
        rows[LOGGED_AT] = pd.to_datetime(np.repeat([item.logged_at for item in batch], lengths), unit="s", utc=True)
        return rows


class NoChampionError(RuntimeError):
    """No model holds the `champion` alias yet: the server is up but not ready."""


@dataclass(frozen=True)
class Scored:
    scores: np.ndarray
    served_by: ServingModel


class Scorer:
    def __init__(self, slots: ModelSlots, log: PredictionLog, mode: str, traffic: float, seed: int) -> None:
        self.slots = slots
        self.log = log
        self.mode = mode
        self.traffic = traffic
        self._random = random.Random(seed)
        self._random_lock = threading.Lock()
        # One worker: shadow scoring queues behind itself instead of competing with answers.
        self._shadow_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shadow")

    def _answering_model(self) -> tuple[ServingModel, ServingModel | None]:
        """(model that answers, model that scores in shadow or None), read once per request."""
        champion, challenger = self.slots.champion, self.slots.challenger
        if champion is None:
            raise NoChampionError("no model holds the `champion` alias yet")
        if challenger is None or self.mode == "off":
            return champion, None
        if self.mode == "shadow":
            return champion, challenger
        with self._random_lock:
            canary = self._random.random() < self.traffic
        return (challenger, None) if canary else (champion, None)

    def _log_rows(
        self, features: pd.DataFrame, entities: pd.DataFrame | None, scores: np.ndarray, model: ServingModel,
        role: str, request_id: str,
    ) -> None:  # fmt: skip
        # Only references and scalars on the request path; the frame is built by the log's writer thread.
        self.log.append(
            PendingRows(features, entities, scores, model.version, model.alias, role, request_id, time.time())
        )

    def _shadow(
        self, challenger: ServingModel, features: pd.DataFrame, entities: pd.DataFrame | None, rid: str
    ) -> None:
        try:
            scores = challenger.scores(features[list(MODEL_INPUT_COLUMNS)])
            self._log_rows(features, entities, scores, challenger, "shadow", rid)
            metrics.SHADOW_PREDICTIONS.labels(challenger.version).inc(len(scores))
        except Exception:  # noqa: BLE001 - the shadow never affects the answer
            logger.exception("shadow scoring with the challenger failed")

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True)

    def score(self, features: pd.DataFrame, entities: pd.DataFrame | None, request_id: str) -> Scored:
        """Scores for a batch of model inputs; `entities` (customer/merchant ids) only go to the log."""
        model, shadow = self._answering_model()
        started = time.perf_counter()
        scores = model.scores(features[list(MODEL_INPUT_COLUMNS)])
        self._log_rows(features, entities, scores, model, "served", request_id)
        histogram = metrics.PREDICTION_SCORE.labels(model.version)
        for value in scores:
            histogram.observe(float(value))
        if shadow is not None:
            self._shadow_pool.submit(self._shadow, shadow, features, entities, request_id)
        logger.debug(
            "scored %d rows with version %s in %.4fs", len(scores), model.version, time.perf_counter() - started
        )
        return Scored(scores, model)
