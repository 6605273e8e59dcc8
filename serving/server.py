"""Start a KServe ModelServer for one of our models, on the port the settings name.

KServe's `model_server` module parses `sys.argv` when imported; our CLI's own arguments must not reach
it, so it is imported with a clean argv. FastAPI's request validation (a V2 body of the wrong shape)
answers 400 with the offending fields, like every other bad input, instead of FastAPI's default 422, and
its other refusals (a body it could not read, an unknown route) answer `{"error": ...}` as KServe does.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

from pipelines.core.credentials import load_credentials
from serving.fast_lane import FastPredictLane
from serving.request_guard import RateLimit, RequestGuard
from serving.unavailable import RETRY_AFTER_S, Unavailable

logger = logging.getLogger(__name__)

EXIT_GRACE_S = 10.0  # after the server stopped, how long threads left behind may hold the process


def import_kserve() -> Any:
    saved, sys.argv = sys.argv, sys.argv[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401 - parses argv at import
    finally:
        sys.argv = saved
    return kserve


def _install_error_handlers() -> None:
    """Every refusal of FastAPI's own is `{"error": ...}` with one line naming the field, as KServe's are."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from kserve.model_server import app
    from starlette.exceptions import HTTPException

    from serving.body_framing import ScoringBodies, http_error_message, validation_message  # lazy: pulls kserve

    async def bad_request(_: Any, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=400, content={"error": validation_message(error)})

    async def http_error(_: Any, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        return JSONResponse(
            status_code=error.status_code, content={"error": http_error_message(error)}, headers=error.headers
        )

    async def come_back_later(_: Any, error: Exception) -> JSONResponse:
        return JSONResponse(status_code=503, content={"error": str(error)},
                            headers={"retry-after": str(RETRY_AFTER_S)})  # fmt: skip

    app.add_exception_handler(RequestValidationError, bad_request)
    app.add_exception_handler(Unavailable, come_back_later)
    app.add_exception_handler(HTTPException, http_error)
    app.add_middleware(ScoringBodies)


def serve(model: Any, port: int) -> None:
    """Load the model, then serve it until SIGTERM/SIGINT (KServe drains in-flight requests first).

    Both model servers also take labels (`POST /v1/labels`) for the transactions they answered.
    """
    kserve = import_kserve()
    _install_error_handlers()
    from kserve.model_server import app

    from serving.feedback import install_label_route  # lazy: pulls kserve

    settings = model.settings
    install_label_route(app, settings, getattr(model, "publish_answers_now", None))
    model.load()
    logger.info("serving %s on port %d", model.name, port)
    # No per-request latency log line: our own histograms measure it (driftloop_inference_request_seconds).
    lane_for = model if settings.fast_lane and getattr(model, "has_fast_lane", False) else None
    server_class = bound_model_server(kserve, settings.bind_host, lane_for, guarded(settings))
    use_uvloop()
    server = server_class(http_port=port, enable_grpc=False, workers=1, grace_period=10, enable_latency_logging=False)
    if not settings.access_log:  # after KServe configured its logging; uvicorn logs a request only with a handler
        access = logging.getLogger("uvicorn.access")
        access.handlers, access.propagate = [], False
    server.start([model])
    exit_within(EXIT_GRACE_S)


def exit_within(grace_s: float) -> None:
    """Make the stopped server's process end within `grace_s`, whatever thread a library left running.

    KServe has stopped the model (the predictor's log is flushed and published by then); what remains is the
    interpreter's exit, which waits for every non-daemon thread. A worker thread that is never told to stop
    (a library's thread pool whose event loop is gone) would hold a process that was told to stop until
    Kubernetes kills it: a watchdog logs the threads still alive with their stacks, runs the exit handlers and
    ends the process."""

    def watch() -> None:
        stopped_in_time.wait(grace_s)
        if stopped_in_time.is_set():
            return
        frames = sys._current_frames()
        for thread in threading.enumerate():
            if thread.is_alive() and not thread.daemon and thread is not threading.main_thread():
                stack = "".join(traceback.format_stack(frames.get(thread.ident or 0))) if thread.ident else ""
                logger.warning("thread %r held the stopped server for %.0f s:\n%s", thread.name, grace_s, stack)
        atexit._run_exitfuncs()
        logging.shutdown()
        os._exit(0)

    stopped_in_time = threading.Event()
    atexit.register(stopped_in_time.set)  # atexit runs after the interpreter joined the non-daemon threads
    threading.Thread(target=watch, name="exit-watchdog", daemon=True).start()


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
        """KServe's server, bound to our host, with the fast lane and the guard in front of its app."""

        def stop(self, sig: int) -> None:
            # Bound the whole stop from its first moment: KServe's drain (its grace period), then whatever
            # `asyncio.run` waits for on its way out (the default executor's threads, unbounded) - a transformer
            # stopped beside a frozen Redis outlived SIGTERM by 30 s there, before the watchdog after start().
            exit_within(self.grace_period + EXIT_GRACE_S)
            super().stop(sig)

        def setup_event_loop(self) -> None:
            if self._rest_server is not None:
                from kserve.model_server import app

                self._rest_server.config.host = host
                if lane_for is not None:
                    app = FastPredictLane(app, lane_for)
                self._rest_server.config.app = guard(app)
            super().setup_event_loop()

    return BoundModelServer
