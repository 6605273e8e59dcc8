"""The KServe transformer: events in, online features from Feast, the predictor's answer out.

KServe's transformer pattern (the chart's `serving.topology: transformer`): a separate server in front of the
predictor. It validates the request (V1 or V2), looks up features, forwards a V1 feature request (with the entity
ids, for the prediction log) and answers in the protocol the caller used, with the model version the predictor
reports. The hop is aiohttp on a pool of keep-alive connections, the body encoded and decoded by orjson: httpx's
AsyncClient cost about 0.8 ms of CPU per request here, aiohttp about 0.2 ms (measured in docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import kserve
import numpy as np
import orjson
from kserve.errors import InvalidInput, ModelNotReady

from pipelines.core.credentials import Scope, load_credentials
from pipelines.core.settings import Settings
from pipelines.core.use_case import EVENT_ID, EVENT_TIMESTAMP, load_use_case
from pipelines.data.prediction_log_format import Events
from pipelines.features.store import open_feature_store
from serving import metrics
from serving.event_stamp import received_now, stamp_events
from serving.online_features import OnlineFeatures, OnlineStoreDown, features_or_policy
from serving.protocol import VERSION_HEADER, answer, parse_request, request_id, tensor_types
from serving.request_schema import event_fields
from serving.unavailable import Unavailable

logger = logging.getLogger(__name__)

LOOKUP_THREADS = 4  # online-store reads in flight at once; each is bounded by DRIFTLOOP_ONLINE_STORE_TIMEOUT_S
PREDICTOR_CONNECTIONS = 64  # kept alive to the predictor; idle ones close after 15 s, before KServe's 65 s do
PREDICTOR_ERRORS = (aiohttp.ClientError, TimeoutError)  # refused, reset, timed out: the predictor is unreachable


class FeatureTransformer(kserve.Model):
    """KServe's transformer: validates events, adds online features, asks the predictor."""

    has_fast_lane = True  # `predict` needs no pre/postprocess: `serving.fast_lane` may await it

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings.model_name, return_response_headers=True)
        self.settings = settings
        self.use_case = load_use_case(settings.use_case)
        self.fields = event_fields(self.use_case)
        self.features: OnlineFeatures | None = None
        self.session: aiohttp.ClientSession | None = None
        self.predictor_token = ""
        self._lookups = ThreadPoolExecutor(max_workers=LOOKUP_THREADS, thread_name_prefix="online-features")
        self._predict_path = f"/v1/models/{self.name}:predict"

    def load(self) -> bool:
        self.features = OnlineFeatures(open_feature_store(self.settings, serving=True), self.use_case)
        self.predictor_token = load_credentials(self.settings).token(Scope.SCORE)
        self.ready = True
        return True

    def stop(self) -> None:
        """KServe calls this on SIGTERM, inside the server's event loop: close the predictor's connections, and
        the lookup threads once their reads end (each is bounded by the store's timeout)."""
        self.ready = False
        session, self.session = self.session, None
        if session is not None:
            # no loop runs when stopped outside the server: nothing is left to close them then
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().create_task(session.close())
        self._lookups.shutdown(wait=False)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:  # created inside the server's event loop
            self.session = aiohttp.ClientSession(
                base_url=f"http://{self.settings.predictor_address}",
                timeout=aiohttp.ClientTimeout(total=10.0),
                headers={"authorization": f"Bearer {self.predictor_token}"},  # the predictor needs `score` too
                connector=aiohttp.TCPConnector(limit=PREDICTOR_CONNECTIONS, keepalive_timeout=15.0),
            )
        return self.session

    async def healthy(self) -> bool:
        """Readiness (`/v2/models/<name>/ready`, the chart's readiness probe): the predictor is ready (a champion,
        a log that takes rows) and the online store answers. Liveness (`/v2/health/live`) stays cheap."""
        try:
            ready = f"/v2/models/{self.name}/ready"
            async with self._session().get(ready, timeout=aiohttp.ClientTimeout(total=2.0)) as response:
                status = response.status
        except PREDICTOR_ERRORS:
            return False
        if status != 200 or self.features is None:
            return False
        return await asyncio.get_running_loop().run_in_executor(self._lookups, self.features.answering)

    def get_input_types(self) -> list[dict[str, Any]]:
        return tensor_types(self.fields)

    def get_output_types(self) -> list[dict[str, Any]]:
        return [{"name": self.use_case.model.score_name, "datatype": "FP64", "shape": [-1]}]

    async def predict(
        self, payload: Any, headers: dict[str, str] | None = None, response_headers: dict[str, str] | None = None
    ) -> Any:
        assert self.features is not None
        started, received_at = time.perf_counter(), received_now()
        rid = request_id(headers)
        try:
            transactions, v2 = parse_request(payload, self.fields, self.settings.max_batch_size)
        except InvalidInput:
            metrics.REQUESTS.labels("transformer", "none", "400").inc()
            raise
        events = stamp_events(transactions, self.use_case.entity_keys, received_at)
        try:  # off the event loop: a slow store must not hold up health checks and other requests
            lookup = await asyncio.get_running_loop().run_in_executor(
                self._lookups, features_or_policy, self.features, events.entity_ids,
                self.settings.online_store_down_policy,
            )  # fmt: skip
        except OnlineStoreDown:
            metrics.REQUESTS.labels("transformer", "none", "503").inc()
            raise
        inputs = {**transactions, **lookup.features}
        body = await self._forward(_forwarded_instances(inputs, self.use_case.model_input.columns, events), rid)
        version = str(body.get("model_version", "unknown"))
        if response_headers is not None:
            response_headers[VERSION_HEADER] = version
        metrics.REQUESTS.labels("transformer", version, "200").inc()
        metrics.REQUEST_LATENCY.labels("transformer", version).observe(time.perf_counter() - started)
        alias = str(body.get("model_alias", ""))
        ids = events.event_ids.tolist()
        score_name = self.use_case.model.score_name
        return answer(
            self.name, version, alias, body["predictions"], v2, rid, ids, lookup.degraded, score_name=score_name
        )

    async def _forward(self, instances: list[dict[str, Any]], rid: str) -> dict[str, Any]:
        # orjson both ways: the standard library's encoder and decoder cost more than the predictor's fast lane
        # spends on the request; a NaN goes as null, which the predictor reads back as NaN.
        try:
            async with self._session().post(
                self._predict_path,
                data=orjson.dumps({"instances": instances}),
                headers={"x-request-id": rid, "content-type": "application/json"},
            ) as response:
                status, content = response.status, await response.read()
                asks_to_wait = "retry-after" in response.headers
        except PREDICTOR_ERRORS as error:
            metrics.REQUESTS.labels("transformer", "none", "503").inc()
            raise ModelNotReady(self.name, f"predictor unreachable: {type(error).__name__}: {error}") from error
        if status == 400:
            raise InvalidInput(_error_of(content, "rejected by the predictor"))
        if status == 503 and asks_to_wait:  # the predictor asks us to wait
            metrics.REQUESTS.labels("transformer", "none", "503").inc()
            raise Unavailable(f"predictor: {_error_of(content, 'unavailable')}")
        if status != 200:
            metrics.REQUESTS.labels("transformer", "none", "503").inc()
            text = content[:200].decode("utf-8", errors="replace")
            raise ModelNotReady(self.name, f"predictor answered {status}: {text}")
        result: dict[str, Any] = orjson.loads(content)
        return result


def _error_of(content: bytes, default: str) -> str:
    """The `error` of a predictor's refusal (`{"error": ...}`), or `default` when the body says none."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return default
    return str(body.get("error", default)) if isinstance(body, dict) else default


def _forwarded_instances(
    inputs: Mapping[str, np.ndarray], model_input: Sequence[str], events: Events
) -> list[dict[str, Any]]:
    """The predictor's V1 instances: every model input, and the entity ids, event id and receipt time (which
    travels with the request, so the predictor logs the event as received here)."""
    columns: dict[str, list[Any]] = {name: inputs[name].tolist() for name in model_input}
    columns.update((key, ids.tolist()) for key, ids in events.entity_ids.items())
    columns[EVENT_ID] = events.event_ids.tolist()
    columns[EVENT_TIMESTAMP] = events.received_iso()
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]
