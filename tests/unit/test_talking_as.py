"""`talking_as`: a second MLflow login for one act (the drift job's canary moves as the pipeline), then the
process's own login again, in both modes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipelines.core.settings import Settings
from pipelines.registry.users import PASSWORD_VARIABLE, USERNAME_VARIABLE, MlflowUser, talking_as


def test_in_the_cluster_the_given_password_swaps_the_login_in_for_the_block_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, MlflowUser.MONITOR.value)
    monkeypatch.setenv(PASSWORD_VARIABLE, "monitor-secret")
    settings = Settings(state_dir=tmp_path, mode="kind", kfp_host="http://kfp:8888")
    with talking_as(settings, MlflowUser.PIPELINE, "pipeline-secret") as login:
        assert login == MlflowUser.PIPELINE.value and os.environ[PASSWORD_VARIABLE] == "pipeline-secret"
    assert (os.environ[USERNAME_VARIABLE], os.environ[PASSWORD_VARIABLE]) == (
        MlflowUser.MONITOR.value,
        "monitor-secret",
    )


def test_in_the_cluster_without_a_password_the_pods_login_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(USERNAME_VARIABLE, MlflowUser.MONITOR.value)
    monkeypatch.setenv(PASSWORD_VARIABLE, "monitor-secret")
    with talking_as(
        Settings(state_dir=tmp_path, mode="kind", kfp_host="http://kfp:8888"), MlflowUser.PIPELINE, None
    ) as login:
        assert login == MlflowUser.MONITOR.value, "the move is then refused by MLflow, and recorded as such"


def test_locally_the_block_acts_as_the_user_and_restores_the_login_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (USERNAME_VARIABLE, PASSWORD_VARIABLE, "_DRIFTLOOP_MLFLOW_LOGIN"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(state_dir=tmp_path)
    with talking_as(settings, MlflowUser.PIPELINE, None) as login:
        assert login == MlflowUser.PIPELINE.value and os.environ[PASSWORD_VARIABLE]
    assert USERNAME_VARIABLE not in os.environ and PASSWORD_VARIABLE not in os.environ
