"""Scoring a validated batch: pick the model (champion, canary or shadow challenger), score, log, measure.

Shared by the predictor (features in the request, or looked up in-process) so that every path answers,
logs and counts the same way.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.model_input import MODEL_INPUT_COLUMNS
from pipelines.prediction_log_format import LOGGED_AT, ROLE
from pipelines.schema import CUSTOMER_ID, EVENT_ID, EVENT_TIMESTAMP, MERCHANT_ID
from serving import metrics
from serving.event_stamp import Events
from serving.model_slots import ModelSlots, ServingModel
from serving.prediction_log import PredictionLog

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PendingRows:
    """One request's answered rows, as the request left them (arrays); the log's writer builds the rows later."""

    inputs: Mapping[str, np.ndarray]  # one array per model input column
    events: Events | None  # the transactions as events; None for a feature request without entity ids
    scores: np.ndarray
    model_version: str
    model_alias: str
    role: str
    request_id: str
    logged_at: float

    @classmethod
    def batch_frame(cls, batch: Sequence[PendingRows]) -> pd.DataFrame:
        """The log rows of many requests at once: one concatenation per column, on the writer thread."""
        lengths = [len(item.scores) for item in batch]

        def event_column(field: str, missing: object, dtype: str) -> np.ndarray:
            """One field of every request's events; rows of a request without events get `missing`."""
            parts = [
                getattr(item.events, field) if item.events is not None else np.full(n, missing, dtype=dtype)
                for item, n in zip(batch, lengths, strict=True)
            ]
            return np.concatenate(parts).astype(dtype)

        def per_row(values: list[object]) -> np.ndarray:
            return np.repeat(np.array(values, dtype=object), lengths)

        rows = pd.DataFrame({c: np.concatenate([item.inputs[c] for item in batch]) for c in MODEL_INPUT_COLUMNS})
        rows[CUSTOMER_ID] = event_column("customer_ids", -1, "int64")
        rows[MERCHANT_ID] = event_column("merchant_ids", -1, "int64")
        rows[EVENT_ID] = pd.array(event_column("event_ids", None, "object"), dtype="string")
        rows[EVENT_TIMESTAMP] = pd.to_datetime(
            event_column("received", np.datetime64("NaT"), "datetime64[ns]"), utc=True
        )
        rows["prediction"] = np.concatenate([item.scores for item in batch]).astype(np.float64)
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
        self, inputs: Mapping[str, np.ndarray], events: Events | None, scores: np.ndarray, model: ServingModel,
        role: str, request_id: str,
    ) -> None:  # fmt: skip
        # Only references and scalars on the request path; the frame is built by the log's writer thread.
        self.log.append(PendingRows(inputs, events, scores, model.version, model.alias, role, request_id, time.time()))

    def _shadow(
        self, challenger: ServingModel, inputs: Mapping[str, np.ndarray], events: Events | None, rid: str
    ) -> None:
        try:
            scores = challenger.scores(inputs)
            self._log_rows(inputs, events, scores, challenger, "shadow", rid)
            metrics.SHADOW_PREDICTIONS.labels(challenger.version).inc(len(scores))
        except Exception:  # noqa: BLE001 - the shadow never affects the answer
            logger.exception("shadow scoring with the challenger failed")

    def close(self) -> None:
        self._shadow_pool.shutdown(wait=True)

    def score(self, inputs: Mapping[str, np.ndarray], events: Events | None, request_id: str) -> Scored:
        """Scores for a batch of model inputs (one array per column); `events` only go to the log."""
        model, shadow = self._answering_model()
        started = time.perf_counter()
        scores = model.scores(inputs)
        self._log_rows(inputs, events, scores, model, "served", request_id)
        histogram = metrics.PREDICTION_SCORE.labels(model.version)
        for value in scores.tolist():
            histogram.observe(value)
        if shadow is not None:
            self._shadow_pool.submit(self._shadow, shadow, inputs, events, request_id)
        logger.debug(
            "scored %d rows with version %s in %.4fs", len(scores), model.version, time.perf_counter() - started
        )
        return Scored(scores, model)
