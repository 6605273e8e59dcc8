"""The Evidently UI as driftloop serves it: Evidently's own app, with a missing write credential answered 401.

Why not `evidently ui`: Evidently checks its write secret itself but answers a write without one 403, as it
does a wrong one. A client (and our acceptance) must be able to tell "no credential" (401, ask for one) from
"not allowed" (403). So `driftloop serve evidently-ui` builds Evidently's app from its own configuration
functions, with the admin token as its secret, and puts one small ASGI layer in front that turns Evidently's 403
into a 401 with `WWW-Authenticate` when the request carried no `evidently-secret` header at all. Evidently alone
decides what needs the secret.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings

SECRET_HEADER = b"evidently-secret"  # Evidently's own header (evidently.ui.service.security.token)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class MissingSecretIs401:
    """ASGI layer: when Evidently refuses a request (403) that carried no secret at all, the answer becomes a 401
    that asks for one. Evidently decides what needs the secret (some reads are POSTs: the dashboard's
    `data_series_batch`); this layer only tells "no credential" from "a wrong one"."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._carries_secret(scope):
            await self.app(scope, receive, send)
            return

        async def asking_for_a_credential(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 403:
                headers = [*message.get("headers", []), (b"www-authenticate", b'evidently-secret realm="driftloop"')]
                message = {**message, "status": 401, "headers": headers}
            await send(message)

        await self.app(scope, receive, asking_for_a_credential)

    @staticmethod
    def _carries_secret(scope: Scope) -> bool:
        return any(name == SECRET_HEADER for name, _ in scope.get("headers", []))


def serve_evidently_ui(settings: Settings, secret: str) -> None:
    """Evidently's UI over the drift snapshots workspace, in this process, until SIGTERM (uvicorn's)."""
    import uvicorn
    from evidently.ui.service.app import create_app, get_config

    workspace = Layout.from_settings(settings).evidently_workspace
    workspace.mkdir(parents=True, exist_ok=True)
    config = get_config(
        host=settings.bind_host, port=settings.evidently_port, workspace=str(workspace),
        secret=secret,
    )  # fmt: skip
    uvicorn.run(MissingSecretIs401(create_app(config)), host=settings.bind_host, port=settings.evidently_port)
