"""The model servers' front door (ASGI, outermost): credentials, body size, label rate, closed routes.

Why here and not in KServe's routes: KServe registers its own routes (V1, V2, the model repository) and the
fast lane answers in front of all of them, so one wrapper around the whole app is the only place every request
passes. What it enforces:
- reads (GET, HEAD: health, readiness, metadata, metrics) stay open;
- scoring (`:predict`, `:explain`, `/infer`) needs the `score` scope: an answered request becomes an event;
- `POST /v1/labels` needs `label` and is rate limited per credential (429 with Retry-After);
- KServe's model repository routes (`/v2/repository/...`: load, unload, index) answer 403 to everyone: an
  unloaded predictor kept answering from the fast lane while its log stopped, with the probes green. What
  serves is decided by the registry's aliases;
- any other write needs `admin`;
- a body larger than `max_request_bytes` is a 413, by its Content-Length before anything is read, or as soon
  as a chunked body passes the limit.
The scope that was presented travels on as the `x-driftloop-credential` header (a client's own is dropped),
so the label route records who sent each label.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

from pipelines.core.credentials import Credentials, Scope, allows
from serving.fast_lane import Receive, Send
from serving.fast_lane import Scope as AsgiScope

CREDENTIAL_HEADER = b"x-driftloop-credential"
OPEN_METHODS = frozenset({"GET", "HEAD"})
LABELS_PATH = "/v1/labels"
SCORING = re.compile(r"^/v1/models/[^/]+:(predict|explain)$|^/v2/models/[^/]+(/versions/[^/]+)?/infer$")
REPOSITORY = "/v2/repository/"


def required_scope(method: str, path: str) -> Scope | None:
    """The scope a request needs; None for an open read."""
    if method in OPEN_METHODS:
        return None
    if path == LABELS_PATH:
        return Scope.LABEL
    if SCORING.match(path):
        return Scope.SCORE
    return Scope.ADMIN


class RateLimit:
    """A token bucket per credential: `per_minute` on average, bursts of a quarter of that."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 4)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # credential -> (tokens, as of)

    def wait_s(self, credential: str) -> float:
        """0 when the request may go (one token taken), else the seconds until it may."""
        now = self.clock()
        tokens, as_of = self.buckets.get(credential, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - as_of) * self.rate)
        if tokens >= 1:
            self.buckets[credential] = (tokens - 1, now)
            return 0.0
        self.buckets[credential] = (tokens, now)
        return (1 - tokens) / self.rate


class RequestGuard:
    """The outermost layer of both model servers: credentials, body size and label rate before any app code."""

    def __init__(self, app: Any, credentials: Credentials, max_body: int, label_rate: RateLimit) -> None:
        self.app = app
        self.credentials = credentials
        self.max_body = max_body
        self.label_rate = label_rate

    async def __call__(self, scope: AsgiScope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        if path.startswith(REPOSITORY):
            await refuse(
                send, 403, "the model repository routes are disabled: the registry's aliases decide what serves"
            )
            return
        headers = [(key, value) for key, value in scope["headers"] if key != CREDENTIAL_HEADER]
        needed = required_scope(method, path)
        if needed is None:
            await self.app({**scope, "headers": headers}, receive, send)
            return
        held = self._held(headers)
        if held is None:
            await refuse(send, 401, f"{method} {path} needs a credential with the {needed} scope: send "
                          "'Authorization: Bearer <token>' (driftloop auth token)",  # fmt: skip
                          [(b"www-authenticate", b'Bearer realm="driftloop"')])  # fmt: skip
            return
        if held == "invalid":
            await refuse(send, 401, "the bearer token is not a credential of this platform",
                          [(b"www-authenticate", b'Bearer realm="driftloop", error="invalid_token"')])  # fmt: skip
            return
        if not allows(Scope(held), needed):
            await refuse(send, 403, f"{method} {path} needs the {needed} scope; this credential has {held}")
            return
        if needed == Scope.LABEL and (wait := self.label_rate.wait_s(held)) > 0:
            retry = str(math.ceil(wait)).encode()
            await refuse(send, 429, "too many label requests for this credential", [(b"retry-after", retry)])
            return
        body = await self._body(scope, headers, receive, send)
        if body is None:
            return
        headers.append((CREDENTIAL_HEADER, held.encode()))
        await self.app({**scope, "headers": headers}, replay(body, receive), send)

    def _held(self, headers: list[tuple[bytes, bytes]]) -> str | None:
        """The presented credential's scope, "invalid" for a token that is none of ours, None when absent."""
        for key, value in headers:
            if key == b"authorization":
                kind, _, token = value.decode("latin-1").partition(" ")
                if kind.lower() != "bearer" or not token.strip():
                    return "invalid"
                found = self.credentials.scope_of(token.strip())
                return found.value if found is not None else "invalid"
        return None

    async def _body(
        self, scope: AsgiScope, headers: list[tuple[bytes, bytes]], receive: Receive, send: Send
    ) -> bytes | None:
        """The whole body, read only while it stays within the limit; None once a 413 was sent."""
        too_large = f"request body larger than {self.max_body} bytes (DRIFTLOOP_MAX_REQUEST_BYTES)"
        for key, value in headers:
            if key == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await refuse(send, 413, too_large)
                return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await refuse(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body read here, then whatever the connection says next."""
    delivered = False

    async def replayed() -> MutableMapping[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def refuse(send: Send, status: int, message: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer `{"error": message}` with `status`."""
    body = orjson.dumps({"error": message})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
