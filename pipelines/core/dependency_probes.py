"""Are the online store and the KFP API there? One quick connection each, before a command does its work.

The same idea as `pipelines.registry.probe` for MLflow: Redis's client raised a 16-line traceback only once the features
had been computed, and the KFP client a urllib3 traceback; a command that cannot reach a service it needs should
say so within seconds, naming the address and the setting that points at it.
"""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from pipelines.core.errors import DependencyUnreachableError
from pipelines.core.settings import Settings, env_var_name

KFP_HEALTH_PATH = "/apis/v2beta1/healthz"
# How long any dependency probe waits for an answer (the registry's too): seconds, not a retry storm.
REACHABLE_TIMEOUT_S = 3.0


def check_online_store(settings: Settings) -> None:
    """Raise `DependencyUnreachableError` unless the Redis online store accepts a connection (a SQLite online
    store is a file: nothing to reach)."""
    if settings.feast_online_store != "redis":
        return
    host, _, port = settings.feast_redis_url.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=REACHABLE_TIMEOUT_S):
            pass
    except OSError as error:
        raise DependencyUnreachableError(
            "the Feast online store (Redis)", settings.feast_redis_url, _reason(error), env_var_name("feast_redis_url")
        ) from error


def check_kfp_api(host: str) -> None:
    """Raise `DependencyUnreachableError` unless the KFP API answers its health route; any HTTP answer counts (a
    proxy's 401 is a reachable API with a login problem, which KFP's own client then reports)."""
    try:
        with urllib.request.urlopen(f"{host.rstrip('/')}{KFP_HEALTH_PATH}", timeout=REACHABLE_TIMEOUT_S):
            pass
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as error:  # ValueError: not a URL at all
        raise DependencyUnreachableError(
            "the Kubeflow Pipelines API", host, _reason(error), f"{env_var_name('kfp_host')} or --kfp-host"
        ) from error


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or error) or type(error).__name__
