"""MLflow's basic-auth app as driftloop runs it: our users, their passwords and grants, set before the server starts.

Why before: the server process then starts against a user store that already says who may do what, so there is
no window in which it runs with MLflow's bootstrap admin alone, and a password rotated in the Secret (or the
local file) takes effect at the next start. Everyone may read (`default_permission = READ`, for a logged-in
user; nobody is anonymous but /health); the pipeline may manage every experiment and registered model (it
creates them, and on an upgraded install they may predate auth); admin may do anything.
"""

from __future__ import annotations

import configparser
import logging
import os
from pathlib import Path

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.registry.users import MlflowUser, all_mlflow_passwords, flask_secret_key

logger = logging.getLogger(__name__)

# MLflow's own variables (mlflow.environment_variables).
CONFIG_PATH_VARIABLE = "MLFLOW_AUTH_CONFIG_PATH"
ADMIN_PASSWORD_VARIABLE = "MLFLOW_AUTH_ADMIN_PASSWORD"
SECRET_KEY_VARIABLE = "MLFLOW_FLASK_SERVER_SECRET_KEY"
APP_NAME = "basic-auth"

DEFAULT_PERMISSION = "READ"
# MLflow checks a password with PBKDF2 on every request unless it caches the result: the model servers poll the
# champion alias every few seconds, and uncached each poll cost the server tens of milliseconds of CPU (two
# MLflow servers took a third of a core each under the test suite). One worker per server (DRIFTLOOP_MLFLOW_
# WORKERS may raise it: a password changed through MLflow's API then reaches other workers within the TTL; ours
# change only at a restart).
AUTH_CACHE_TTL_S = 300
# (resource type, pattern, permission) per user beyond the default; MLflow grants a creator MANAGE on what it
# creates, and these cover what was created before (an upgrade) or by someone else.
GRANTS: dict[MlflowUser, tuple[tuple[str, str, str], ...]] = {
    MlflowUser.PIPELINE: (("experiment", "*", "MANAGE"), ("registered_model", "*", "MANAGE")),
}


def write_auth_config(settings: Settings) -> Path:
    """The auth app's configuration file (0600: the database URI may hold a password)."""
    layout = Layout.from_settings(settings)
    config = configparser.ConfigParser()
    config["mlflow"] = {
        "default_permission": DEFAULT_PERMISSION,
        "database_uri": layout.mlflow_auth_database_uri,
        "admin_username": MlflowUser.ADMIN.value,
        "authorization_function": "mlflow.server.auth:authenticate_request_basic_auth",
        "auth_cache_ttl_seconds": str(AUTH_CACHE_TTL_S),
    }
    folder = layout.mlflow
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "basic_auth.ini"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        config.write(handle)
    path.chmod(0o600)
    return path


def auth_environment(settings: Settings, config_path: Path) -> dict[str, str]:
    """What the MLflow server process needs for its auth app; secrets travel here, never on the command line."""
    return {
        CONFIG_PATH_VARIABLE: str(config_path),
        ADMIN_PASSWORD_VARIABLE: all_mlflow_passwords(settings)[MlflowUser.ADMIN],
        SECRET_KEY_VARIABLE: flask_secret_key(settings),
    }


def _private_sqlite_file(path: Path) -> None:
    """The user store holds password hashes: created 0600 before SQLite creates it with the umask's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    path.chmod(0o600)


def bootstrap_users(settings: Settings) -> None:
    """Every user exists with its current password and grants (idempotent; runs at each server start)."""
    database_uri = Layout.from_settings(settings).mlflow_auth_database_uri
    if database_uri.startswith("sqlite:///"):
        _private_sqlite_file(Path(database_uri.removeprefix("sqlite:///")))
    # The auth package reads its configuration when imported: the caller has exported CONFIG_PATH_VARIABLE.
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(database_uri)
    for user, password in all_mlflow_passwords(settings).items():
        is_admin = user is MlflowUser.ADMIN
        if store.has_user(user.value, use_primary=True):
            store.update_user(user.value, password=password, is_admin=is_admin)
        else:
            store.create_user(user.value, password, is_admin=is_admin)
        for resource_type, pattern, permission in GRANTS.get(user, ()):
            store.grant_user_permission(user.value, resource_type, pattern, permission)
    logger.info("MLflow users ready: %s", ", ".join(user.value for user in MlflowUser))
