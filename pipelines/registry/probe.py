"""Is the MLflow registry there? One quick request, before anything imports MLflow.

MLflow's client retries a refused connection for minutes, and importing it takes seconds; a check that cannot
reach the registry should say so within seconds, naming the URL, and never read as "no champion yet".
"""

from __future__ import annotations

import urllib.error
import urllib.request

from pipelines.core.dependency_probes import REACHABLE_TIMEOUT_S
from pipelines.core.errors import RegistryUnreachableError


def check_reachable(tracking_uri: str) -> None:
    """Raise `RegistryUnreachableError` unless the tracking server's `/health` answers (HTTP registries only).
    The standard library's client: one that builds a TLS context per call would cost more than the request."""
    if not tracking_uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{tracking_uri.rstrip('/')}/health", timeout=REACHABLE_TIMEOUT_S):
            pass
    except (urllib.error.URLError, OSError) as error:
        detail = getattr(error, "reason", None) or error
        raise RegistryUnreachableError(tracking_uri, str(detail) or type(error).__name__) from error
