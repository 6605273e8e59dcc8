"""The model servers' fast lane: a V1 JSON `:predict` goes straight to the model, in front of KServe's FastAPI stack.

Why: on a 2-core machine KServe's timing middleware, routing, dependency solving and data-plane wrappers cost
about as much per request as the feature lookup and the model together (py-spy under `make bench` load). The
lane answers that one hot route with the same calls KServe makes (`validate`, then `predict` with response
headers, awaited when the model's is a coroutine, as the transformer's is) and KServe's own exception handlers
(same status codes, same `{"error": ...}` bodies). Everything else goes through KServe unchanged: V2, metadata,
health, labels, metrics, and V1 bodies KServe decodes specially (CloudEvents, content types that are not JSON).
KServe's own per-stage histograms are not recorded for laned requests; ours (`driftloop_inference_request_seconds`)
are. `DRIFTLOOP_FAST_LANE=false` turns the lane off.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class FastPredictLane:
    """ASGI wrapper around KServe's app; `model` is a KServe model that needs no `preprocess` or `postprocess` (its
    `predict` answers alone, synchronously or as a coroutine)."""

    def __init__(self, app: Any, model: Any) -> None:
        from kserve.protocol.dataplane import JSON_HEADERS

        self.app = app
        self.model = model
        self.path = f"/v1/models/{model.name}:predict"
        self.json_types = frozenset(JSON_HEADERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
        if not self._plain_json(headers):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            content, response_headers = await self._predict(body, headers)
        except Exception as error:  # noqa: BLE001 - answered by KServe's own handler for this error type
            await self._kserve_error(error, scope, receive, send)
            return
        await _send_json(send, 200, content, response_headers)

    def _plain_json(self, headers: dict[str, str]) -> bool:
        """A body KServe would decode as plain JSON: no CloudEvent headers, JSON or no content type."""
        if any(key.startswith("ce-") for key in headers):
            return False
        content_type = headers.get("content-type")
        return content_type is None or content_type in self.json_types

    async def _predict(self, body: bytes, headers: dict[str, str]) -> tuple[Any, dict[str, str]]:
        from kserve.errors import InvalidInput, ModelNotReady

        if not self.model.ready:
            raise ModelNotReady(self.model.name)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise InvalidInput(f"Unrecognized request format: {error}") from error
        response_headers: dict[str, str] = {}
        result = self.model.predict(self.model.validate(payload), headers, response_headers)
        if inspect.isawaitable(result):
            result = await result
        response_headers.pop("content-length", None)
        return result, response_headers

    async def _kserve_error(self, error: Exception, scope: Scope, receive: Receive, send: Send) -> None:
        """The answer KServe's app gives this error: its handler for the nearest registered exception type
        (KServe registers one for `Exception`, so every error has one)."""
        handlers = self.app.exception_handlers
        handler = next(handlers[kind] for kind in type(error).__mro__ if kind in handlers)
        response = await handler(None, error)
        await response(scope, receive, send)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _send_json(send: Send, status: int, content: Any, headers: dict[str, str]) -> None:
    body = orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((key.encode("latin-1"), str(value).encode("latin-1")) for key, value in headers.items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
