"""The KServe predictor: serves `models:/<name>@champion` from the MLflow registry.

Without `with_features` it takes every model input in the request (the classic KServe predictor, which
the separate transformer calls). With `with_features` it takes events (entity ids and request fields) and
looks their features up in Feast itself: the in-process chain, one network hop less.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import kserve
import numpy as np
from kserve.errors import InvalidInput, ModelNotReady

from pipelines.core.errors import RegistryUnreachableError
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, load_use_case
from pipelines.data.prediction_log_format import Events
from pipelines.data.storage import prediction_log_folder
from pipelines.features.store import open_feature_store
from pipelines.registry.tracking import client_as
from pipelines.registry.users import MlflowUser
from serving import metrics
from serving.answer_stream import answer_stream
from serving.event_stamp import UntrustedTime, received_now, stamp_events
from serving.model_slots import ModelSlots
from serving.online_features import OnlineFeatures, OnlineStoreDown, features_or_policy
from serving.prediction_log import PredictionLog, PredictionLogFull
from serving.protocol import VERSION_HEADER, answer, parse_request, request_id, tensor_types
from serving.request_schema import EVENT_ID_FIELD, check_value, event_fields, feature_fields
from serving.scoring import NoChampionError, Scorer

logger = logging.getLogger(__name__)


class ChampionPredictor(kserve.Model):
    """KServe's predictor for the champion: scores, logs every answer, swaps versions without a restart."""

    has_fast_lane = True  # `predict` is synchronous and needs no pre/postprocess: `serving.fast_lane` may call it

    def __init__(self, settings: Settings, with_features: bool) -> None:
        super().__init__(settings.model_name, return_response_headers=True)
        self.settings = settings
        self.use_case = load_use_case(settings.use_case)
        self.with_features = with_features
        self.server_label = "predictor-inprocess" if with_features else "predictor"
        self.fields = event_fields(self.use_case) if with_features else feature_fields(self.use_case)
        self.slots: ModelSlots | None = None
        self.features: OnlineFeatures | None = None
        self.scorer: Scorer | None = None
        self.log: PredictionLog | None = None

    def load(self) -> bool:
        """Connect to the registry and the online store; serve the champion once there is one."""
        settings = self.settings
        self.slots = ModelSlots(
            client_as(settings, MlflowUser.SERVING),
            settings.model_name,
            use_case=self.use_case,
            onnx_threads=settings.onnx_threads,
            onnx_batch_threads=settings.onnx_batch_threads,
        )
        try:
            self.slots.refresh()
        except RegistryUnreachableError as error:
            logger.warning("%s; will keep trying", error.message)
        except Exception:  # noqa: BLE001 - the registry may come up after us; the watcher retries
            logger.warning("registry not reachable yet; will keep trying", exc_info=True)
        self.slots.start_watching(settings.model_poll_interval_s)
        if self.with_features:
            self.features = OnlineFeatures(open_feature_store(settings, serving=True), self.use_case)
        self.log = PredictionLog(
            prediction_log_folder(settings),
            settings.prediction_log_flush_s,
            Layout.from_settings(settings).prediction_log_segments,
            settings.prediction_log_commit_s,
            settings.prediction_log_max_waiting_rows,
            listener=answer_stream(settings, self.use_case),
        ).start()
        seen = metrics.prediction_scores(self.use_case.model.score_buckets)
        self.scorer = Scorer(self.slots, self.log, settings.seed, self.use_case.entity_keys, seen)
        self.ready = True  # the server is up; `healthy()` says whether a champion can answer
        return True

    def publish_answers_now(self) -> None:
        """Publish the answers the prediction log holds in its open segment (a label is waiting for one)."""
        if self.log is not None:
            self.log.publish_now()

    async def healthy(self) -> bool:
        """Readiness (`/v2/models/<name>/ready`, the chart's readiness probe): a champion to answer with, and a
        prediction log that takes its rows. Liveness (`/v2/health/live`) stays a cheap answer."""
        return (
            self.slots is not None
            and self.slots.champion is not None
            and (self.log is None or self.log.accepting())
            and (self.features is None or self.features.answering())
        )

    def get_input_types(self) -> list[dict[str, Any]]:
        return tensor_types(self.fields)

    def get_output_types(self) -> list[dict[str, Any]]:
        return [{"name": self.use_case.model.score_name, "datatype": "FP64", "shape": [-1]}]

    def predict(
        self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> Any:
        assert self.scorer is not None
        started, received_at = time.perf_counter(), received_now()
        rid = request_id(headers)
        version = "none"
        if self.log is not None and not self.log.accepting():  # before scoring: an answer must reach the log
            metrics.PREDICTION_LOG_REFUSED.inc()
            metrics.REQUESTS.labels(self.server_label, version, "503").inc()
            raise PredictionLogFull(self.name)
        try:
            columns, v2 = parse_request(payload, self.fields, self.settings.max_batch_size)
            keys = self.use_case.entity_keys
            if self.with_features:  # an event request: it becomes an event
                events: Events | None = stamp_events(columns, keys, received_at)
            else:
                events = _events_if_given(payload, v2, keys, received_at, self.settings.max_clock_skew_s)
            degraded = None
            if self.features is not None:  # the in-process chain: a read bounded by the online store's timeout
                entity_ids = {key: columns[key] for key in keys}
                lookup = features_or_policy(self.features, entity_ids, self.settings.online_store_down_policy)
                columns, degraded = {**columns, **lookup.features}, lookup.degraded
            # The model's inputs alone: the entity ids and the event id travel in `events`, and the log's rows
            # are built from these (extra request columns would be concatenated and then overwritten per batch).
            inputs = {column: columns[column] for column in self.use_case.model_input.columns}
            scored = self.scorer.score(inputs, events, rid)
        except InvalidInput:
            metrics.REQUESTS.labels(self.server_label, version, "400").inc()
            raise
        except NoChampionError as error:
            metrics.REQUESTS.labels(self.server_label, version, "503").inc()
            raise ModelNotReady(self.name, str(error)) from error
        except OnlineStoreDown:
            metrics.REQUESTS.labels(self.server_label, version, "503").inc()
            raise
        version = scored.served_by.version
        if response_headers is not None:
            response_headers[VERSION_HEADER] = version
        metrics.REQUESTS.labels(self.server_label, version, "200").inc()
        metrics.REQUEST_LATENCY.labels(self.server_label, version).observe(time.perf_counter() - started)
        event_ids = None if events is None else events.event_ids.tolist()
        alias, score_name = scored.served_by.alias, self.use_case.model.score_name
        return answer(self.name, version, alias, scored.scores, v2, rid, event_ids, degraded, score_name=score_name)

    def stop(self) -> None:
        """Graceful shutdown (KServe calls this on SIGTERM): stop watching, flush the prediction log."""
        if self.slots is not None:
            self.slots.stop()
        if self.scorer is not None:
            self.scorer.close()
        if self.log is not None:
            self.log.close()


def _events_if_given(
    payload: Any, v2: bool, entity_keys: tuple[str, ...], received_at: np.datetime64, skew_s: float
) -> Events | None:
    """The events behind a feature request, when the transformer forwarded their entity ids (every one of
    `entity_keys`, an int), event ids and receipt times beside the features (V1 only): for the prediction log
    and the event store. A receipt time more than `skew_s` from this server's clock is refused: a direct caller
    cannot backdate an event; an event id is checked as the transformer checks its own (what the log cannot
    store is refused here, not at its flush)."""
    if v2 or not isinstance(payload, dict):
        return None
    instances = payload.get("instances") or []
    if not all(isinstance(instance, dict) for instance in instances):
        return None
    ids = {key: [instance.get(key) for instance in instances] for key in entity_keys}
    if not all(isinstance(value, int) for values in ids.values() for value in values):
        return None
    event_ids = [
        check_value(EVENT_ID_FIELD, instance.get(EVENT_ID), f"instances[{index}].{EVENT_ID}")
        for index, instance in enumerate(instances)
    ]
    columns = {key: np.array(values, dtype=np.int64) for key, values in ids.items()}
    columns[EVENT_ID] = np.array(event_ids, dtype=object)
    given = [i.get(EVENT_TIMESTAMP) for i in instances]
    try:
        return stamp_events(columns, entity_keys, received_at, given, np.timedelta64(int(skew_s * 1e6), "us"))
    except UntrustedTime as error:
        raise InvalidInput(
            f"instances[{error.index}].event_timestamp: the receipt time is the server's; a forwarded one may "
            f"differ from the predictor's clock by at most {skew_s:g} s (DRIFTLOOP_MAX_CLOCK_SKEW_S)"
        ) from error
