"""MLflow logins as pure logic: who a process talks to MLflow as, and the users the server is started with
(the attacks over HTTP are in tests/integration/test_trust_boundaries.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.registry.users import (
    PASSWORD_VARIABLE,
    SECRET_FILES,
    SET_BY_US_VARIABLE,
    USERNAME_VARIABLE,
    MlflowUser,
    act_as,
    mlflow_password,
)


@pytest.fixture
def no_login(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MLflow login in this process; whatever act_as sets is undone after the test."""
    for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE, SET_BY_US_VARIABLE):
        clean_env.delenv(name, raising=False)
    return clean_env


def test_local_mode_creates_one_private_password_per_user(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    passwords = {user: mlflow_password(settings, user) for user in MlflowUser}
    assert len(set(passwords.values())) == len(MlflowUser) and all(len(p) >= 32 for p in passwords.values())
    folder = Layout.from_settings(settings).credentials
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {path.name for path in folder.iterdir()} >= set(SECRET_FILES)
    assert all(stat.S_IMODE((folder / name).stat().st_mode) == 0o600 for name in SECRET_FILES)
    assert mlflow_password(settings, MlflowUser.PIPELINE) == passwords[MlflowUser.PIPELINE], "kept, not regenerated"


def test_act_as_switches_between_our_users_and_never_replaces_a_persons_login(
    no_login: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    settings = Settings(state_dir=tmp_path)
    act_as(settings, MlflowUser.SERVING)
    assert os.environ[USERNAME_VARIABLE] == "driftloop-serving"
    assert os.environ[PASSWORD_VARIABLE] == mlflow_password(settings, MlflowUser.SERVING)
    act_as(settings, MlflowUser.PIPELINE)  # the local runner, after the monitor read the champion
    assert os.environ[USERNAME_VARIABLE] == "driftloop-pipeline"
    assert os.environ[PASSWORD_VARIABLE] == mlflow_password(settings, MlflowUser.PIPELINE)

    no_login.setenv(USERNAME_VARIABLE, "driftloop-monitor")  # exported by a person: the cluster's login
    no_login.setenv(PASSWORD_VARIABLE, "the-clusters-password")
    act_as(settings, MlflowUser.PIPELINE)
    assert os.environ[USERNAME_VARIABLE] == "driftloop-monitor"
    assert os.environ[PASSWORD_VARIABLE] == "the-clusters-password"


def test_cluster_mode_keeps_the_pods_own_login(no_login: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    settings = Settings(state_dir=tmp_path, mode="kind", kfp_host="http://kfp:8888")
    act_as(settings, MlflowUser.PIPELINE)
    assert USERNAME_VARIABLE not in os.environ, "the pod's environment decides, nothing is read from files"
    assert not Layout.from_settings(settings).credentials.exists()


def test_the_server_starts_with_every_user_and_the_current_passwords(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What `driftloop serve mlflow` does before it starts MLflow, against the real auth store (SQLite)."""
    import os

    from driftloop.mlflow_auth import auth_environment, bootstrap_users, write_auth_config

    settings = Settings(state_dir=tmp_path)
    config = write_auth_config(settings)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    environment = auth_environment(settings, config)
    assert environment["MLFLOW_AUTH_ADMIN_PASSWORD"] == mlflow_password(settings, MlflowUser.ADMIN)
    for name, value in environment.items():
        clean_env.setenv(name, value)
    bootstrap_users(settings)
    auth_db = Path(Layout.from_settings(settings).mlflow_auth_database_uri.removeprefix("sqlite:///"))
    assert stat.S_IMODE(auth_db.stat().st_mode) == 0o600, "password hashes are for the platform's user only"

    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(Layout.from_settings(settings).mlflow_auth_database_uri)
    for user in MlflowUser:
        assert store.authenticate_user(user.value, mlflow_password(settings, user))
        assert store.get_user(user.value).is_admin == (user is MlflowUser.ADMIN)
    assert not store.authenticate_user("admin", "password1234"), "never a default password"

    rotated = Layout.from_settings(settings).credentials / MlflowUser.SERVING.password_file
    rotated.write_text("a-rotated-password-of-some-length")
    bootstrap_users(settings)  # the next start
    assert store.authenticate_user("driftloop-serving", "a-rotated-password-of-some-length")
    assert os.environ["MLFLOW_AUTH_CONFIG_PATH"] == str(config)
