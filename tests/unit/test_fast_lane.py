"""The fast lane (`serving.fast_lane`) without a server: a synchronous `predict` (the predictor's) and a coroutine
(the transformer's) answer alike, and an error goes to the app's own handler for its type."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from serving.fast_lane import FastPredictLane


class Handled(Exception):
    """What the stand-in app has a handler for."""


class App:
    """KServe's app as the lane sees it: a fallback route and exception handlers by type."""

    def __init__(self) -> None:
        self.routed = 0
        self.exception_handlers = {Exception: self._handle}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.routed += 1
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"routed"})

    @staticmethod
    async def _handle(_: Any, error: Exception) -> Any:
        from fastapi.responses import JSONResponse

        return JSONResponse(status_code=418 if isinstance(error, Handled) else 500, content={"error": str(error)})


class Model:
    name = "m"
    ready = True

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def validate(self, payload: Any) -> Any:
        return payload

    def answer(self, payload: Any, response_headers: dict[str, str]) -> dict[str, Any]:
        if self.fail:
            raise Handled("no")
        response_headers["x-driftloop-model-version"] = "7"
        return {"predictions": [len(payload["instances"])]}


class SyncModel(Model):
    def predict(self, payload: Any, headers: dict[str, str], response_headers: dict[str, str]) -> Any:
        return self.answer(payload, response_headers)


class AsyncModel(Model):
    async def predict(self, payload: Any, headers: dict[str, str], response_headers: dict[str, str]) -> Any:
        await asyncio.sleep(0)
        return self.answer(payload, response_headers)


def _call(lane: FastPredictLane, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"content-type", b"application/json")]}
    asyncio.run(lane(scope, receive, send))
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, content


@pytest.mark.parametrize("kind", [SyncModel, AsyncModel])
def test_a_synchronous_and_a_coroutine_predict_answer_alike(kind: type[Model]) -> None:
    app = App()
    lane = FastPredictLane(app, kind())
    status, headers, content = _call(lane, "/v1/models/m:predict", b'{"instances": [1, 2, 3]}')
    assert (status, orjson.loads(content)) == (200, {"predictions": [3]})
    assert headers["x-driftloop-model-version"] == "7" and headers["content-type"] == "application/json"
    assert app.routed == 0, "the lane answered, not the app"
    assert _call(lane, "/v2/models/m/infer", b"{}")[0] == 299 and app.routed == 1, "other routes go to the app"


@pytest.mark.parametrize("kind", [SyncModel, AsyncModel])
def test_an_error_is_answered_by_the_apps_handler_for_its_type(kind: type[Model]) -> None:
    status, _, content = _call(FastPredictLane(App(), kind(fail=True)), "/v1/models/m:predict", b'{"instances": []}')
    assert (status, orjson.loads(content)) == (418, {"error": "no"})
