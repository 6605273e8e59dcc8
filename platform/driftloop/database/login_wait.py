"""Waiting for a PostgreSQL login: the migration waits for the server (it may still be initialising when
Helm's hook starts), and MLflow's init container for its role (it may log in only once the migration ran)."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from pipelines.core.errors import DriftloopError

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

RETRY_INTERVAL_S = 2.0


def described(conninfo: str) -> str:
    """`user@host:port/database` of a connection string: what a log line may show of it."""
    from psycopg.conninfo import conninfo_to_dict

    part = conninfo_to_dict(conninfo).get
    return f"{part('user', '?')}@{part('host', 'localhost')}:{part('port', 5432)}/{part('dbname', '?')}"


def connect_when_ready(conninfo: str, timeout_s: float, **options: Any) -> psycopg.Connection[Any]:
    """A connection as soon as the server accepts this login, retried every few seconds until `timeout_s`."""
    import psycopg

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return psycopg.connect(conninfo, connect_timeout=10, **options)
        except psycopg.OperationalError as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            if time.monotonic() >= deadline:
                raise DriftloopError(
                    f"{described(conninfo)} accepted no login within {timeout_s:.0f} s ({reason}); in the cluster "
                    "the migration job (`driftloop database migrate`) creates each role and lets it log in"
                ) from error
            logger.info("waiting for %s: %s", described(conninfo), reason)
            time.sleep(RETRY_INTERVAL_S)


def wait_for_login(conninfo: str, timeout_s: float) -> None:
    """Return once `conninfo` can log in; raise DriftloopError after `timeout_s`."""
    connect_when_ready(conninfo, timeout_s).close()
