"""Start a KServe ModelServer for one of our models, on the port the settings name.

KServe's `model_server` module parses `sys.argv` when imported; our CLI's own arguments must not reach
it, so it is imported with a clean argv. FastAPI's request validation (a V2 body of the wrong shape)
answers 400 with the offending fields, like every other bad input, instead of FastAPI's default 422.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


def import_kserve() -> Any:
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401 - parses argv at import
    finally:
        sys.argv = saved
    return kserve


def _install_validation_handler() -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from kserve.model_server import app

    from serving.unavailable import RETRY_AFTER_S, Unavailable

    async def bad_request(_: Any, error: Exception) -> JSONResponse:
        problems = []
        for item in getattr(error, "errors", lambda: [])():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
        return JSONResponse(status_code=400, content={"error": "; ".join(problems) or "invalid request body"})

    async def come_back_later(_: Any, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"error": str(error)},
                            headers={"retry-after": str(RETRY_AFTER_S)})  # fmt: skip

    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(Unavailable, come_back_later)
    app.add_middleware(JsonByDefault)


class JsonByDefault:
    """ASGI middleware: a V2 `/infer` body without a content type and without binary tensors is JSON.

    KServe treats any body not labelled `application/json` as binary tensor data; Open Inference clients
    such as tritonclient send plain JSON without that label when no tensor is binary.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and str(scope.get("path", "")).endswith("/infer"):
            headers = dict(scope.get("headers") or [])
            if b"inference-header-content-length" not in headers and b"json" not in headers.get(b"content-type", b""):
                kept = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-type"]
                scope = {**scope, "headers": [*kept, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


def serve(model: Any, port: int) -> None:
    """Load the model, then serve it until SIGTERM/SIGINT (KServe drains in-flight requests first).

    Both model servers also take labels (`POST /v1/labels`) for the transactions they answered.
    """
    kserve = import_kserve()
    _install_validation_handler()
    from kserve.model_server import app

    from serving.feedback import install_label_route

    settings = model.settings
    install_label_route(app, settings)
    model.load()
    logger.info("serving %s on port %d", model.name, port)
    # No per-request latency log line: our own histograms measure it (driftloop_inference_request_seconds).
    lane_for = model if settings.fast_lane and getattr(model, "has_fast_lane", False) else None
    server_class = bound_model_server(kserve, settings.bind_host, lane_for, guarded(settings))
    use_uvloop()
    server_class(http_port=port, enable_grpc=False, workers=1, grace_period=10, enable_latency_logging=False).start(
        [model]
    )


def use_uvloop() -> None:
    """Run the server on uvloop, as `uvicorn.run` does by default, where it is installed (it is in the lock).

    KServe's ModelServer starts its servers with `asyncio.run`, which takes the default policy's loop: the pure
    Python selector loop, slower per request than the loop uvicorn itself would pick."""
    try:
        import uvloop
    except ImportError:
        logger.info("uvloop is not installed: serving on asyncio's own event loop")
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    # KServe's setup asks for the current loop before `asyncio.run` makes the serving one; uvloop's policy
    # does not create one on demand as asyncio's does.
    asyncio.set_event_loop(asyncio.new_event_loop())


def guarded(settings: Any) -> Callable[[Any], Any]:
    """Wraps an app in the request guard (`serving.request_guard`) with the platform's credentials."""
    from driftloop.core.credentials import load_credentials
    from serving.request_guard import RateLimit, RequestGuard

    credentials = load_credentials(settings)
    label_rate = RateLimit(settings.label_requests_per_minute)
    return lambda app: RequestGuard(app, credentials, settings.max_request_bytes, label_rate)


def bound_model_server(kserve: Any, host: str, lane_for: Any, guard: Callable[[Any], Any]) -> Any:
    """KServe's ModelServer with its REST server listening on `host` (DRIFTLOOP_BIND_ADDRESS), with the
    fast lane (`serving.fast_lane`) in front of KServe's app when `lane_for` names the model it serves, and
    `guard` (credentials, body size) in front of everything.

    KServe's REST server always listens on 0.0.0.0, which in local mode would put the model servers on every
    interface of the laptop whatever the settings say (the parity run found it: two pods' servers on one port).
    The host (and the app) are set after KServe builds its uvicorn config and before the event loop binds the
    socket.
    """

    class BoundModelServer(kserve.ModelServer):
        def setup_event_loop(self) -> None:
            if self._rest_server is not None:
                from kserve.model_server import app

                self._rest_server.config.host = host
                if lane_for is not None:
                    from serving.fast_lane import FastPredictLane

                    app = FastPredictLane(app, lane_for)
                self._rest_server.config.app = guard(app)
            super().setup_event_loop()

    return BoundModelServer
