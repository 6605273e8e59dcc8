from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from driftloop.settings_doc import markdown_table
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings, env_var_name
from pipelines.core.use_case import Skip
from use_cases.fraud import USE_CASE as FRAUD

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_local_loopback(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    settings = Settings()
    assert settings.mode == "local"
    assert settings.state_dir == tmp_path / ".driftloop"
    assert settings.tracking_uri == "http://127.0.0.1:5000"
    assert (settings.mlflow_port, settings.evidently_port) == (5000, 8000)
    assert (settings.transformer_port, settings.predictor_port) == (8080, 8081)
    assert settings.bind_host == "127.0.0.1"


def test_env_overrides_win_over_derived_values(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_MLFLOW_PORT", "5999")
    clean_env.setenv("DRIFTLOOP_HOST", "localhost")
    assert Settings().tracking_uri == "http://localhost:5999"
    clean_env.setenv("DRIFTLOOP_MLFLOW_TRACKING_URI", "http://mlflow.driftloop:5000")
    assert Settings().tracking_uri == "http://mlflow.driftloop:5000"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DRIFTLOOP_MLFLOW_PORT", "0"), ("DRIFTLOOP_MLFLOW_PORT", "http"), ("DRIFTLOOP_MODE", "cloud")],
)
def test_bad_values_are_rejected_with_the_field_named(clean_env: pytest.MonkeyPatch, variable: str, value: str) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ValidationError) as error:
        Settings()
    assert variable.removeprefix("DRIFTLOOP_").lower() in str(error.value)


def test_env_var_name() -> None:
    assert env_var_name("mlflow_port") == "DRIFTLOOP_MLFLOW_PORT"


def test_configuration_tables_are_generated_from_settings() -> None:
    configuration = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert markdown_table() in configuration, "docs/configuration.md's tables are stale: run `make docs`"
    pages = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
    documented = {name for page in pages for name in re.findall(r"`(DRIFTLOOP_[A-Z_]+)`", page.read_text())}
    expected = {env_var_name(name) for name in Settings.model_fields}
    assert documented - expected == set(), "the README or docs/ name variables the settings object does not have"


def test_cluster_mode_without_the_kfp_api_is_refused_when_read(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_MODE", "kind")
    with pytest.raises(ValidationError, match="DRIFTLOOP_MODE=kind needs DRIFTLOOP_KFP_HOST"):
        Settings()
    clean_env.setenv("DRIFTLOOP_KFP_HOST", "http://ml-pipeline.kubeflow:8888")
    assert Settings().kfp_host == "http://ml-pipeline.kubeflow:8888"


def test_the_cli_reports_invalid_settings_in_one_line(clean_env: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    clean_env.setenv("DRIFTLOOP_MODE", "kind")
    command = [str(Path(sys.executable).with_name("driftloop")), "config", "show"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "error: invalid settings: DRIFTLOOP_MODE=kind needs DRIFTLOOP_KFP_HOST (the KFP API retraining runs are "
        "submitted to, e.g. http://ml-pipeline.kubeflow.svc.cluster.local:8888)"
    ]


def test_a_child_reads_exactly_the_settings_its_parent_was_given(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Settings built in code (not read from the environment) reach a child process unchanged, and a stale
    DRIFTLOOP_* variable of the parent's environment does not."""
    from pipelines.core.settings import settings_environment

    given = Settings(
        state_dir=tmp_path, mode="kind", kfp_host="http://kfp:8888", drift_share_threshold=0.25,
        feast_online_store="redis", model_poll_interval_s=2.5, mlflow_workers=3,
        feast_redis_password="a-secret-the-child-needs-as-it-is",
    )  # fmt: skip
    base = {"PATH": "/bin", "DRIFTLOOP_MLFLOW_PORT": "5999", "DRIFTLOOP_SEED": "7"}
    environment = settings_environment(given, base)
    assert environment["PATH"] == "/bin"
    assert environment["DRIFTLOOP_FEAST_REDIS_PASSWORD"] == "a-secret-the-child-needs-as-it-is", "not its mask"
    for name, value in environment.items():
        clean_env.setenv(name, value)
    assert Settings() == given


def test_exported_settings_last_for_the_block_only(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    from pipelines.core.settings import exported

    given = Settings(state_dir=tmp_path, predictor_port=9999)
    clean_env.setenv("DRIFTLOOP_SEED", "7")
    with exported(given):
        assert os.environ["DRIFTLOOP_PREDICTOR_PORT"] == "9999"
        assert os.environ["DRIFTLOOP_SEED"] == "42", "the settings given, not the stale variable"
    assert os.environ["DRIFTLOOP_SEED"] == "7" and "DRIFTLOOP_PREDICTOR_PORT" not in os.environ


@pytest.mark.parametrize("address", ["redis", "redis:", ":6379", "redis:99999", "redis:port"])
def test_the_redis_online_store_needs_a_host_and_port(clean_env: pytest.MonkeyPatch, address: str) -> None:
    clean_env.setenv("DRIFTLOOP_FEAST_ONLINE_STORE", "redis")
    clean_env.setenv("DRIFTLOOP_FEAST_REDIS_URL", address)
    with pytest.raises(ValidationError, match="DRIFTLOOP_FEAST_REDIS_URL as host:port"):
        Settings()
    for good in ("feast-redis.driftloop.svc:6379", "10.0.0.7:6380,db=1,ssl=true"):
        clean_env.setenv("DRIFTLOOP_FEAST_REDIS_URL", good)
        assert Settings().feast_redis_url == good


def test_every_setting_belongs_to_exactly_one_group() -> None:
    from pipelines.core.settings import SETTINGS_GROUPS

    grouped = [name for group in SETTINGS_GROUPS.values() for name in group.model_fields]
    assert sorted(grouped) == sorted(Settings.model_fields) and len(grouped) == len(set(grouped))


def test_a_ray_port_among_rays_own_ports_is_refused_when_read(clean_env: pytest.MonkeyPatch) -> None:
    """`ray start` found the clash only when the platform started (a head on 16390 met its own worker range)."""
    clean_env.setenv("DRIFTLOOP_RAY_PORT", "16390")
    with pytest.raises(ValidationError, match="DRIFTLOOP_RAY_PORT=16390 is among the ports Ray keeps"):
        Settings()
    clean_env.setenv("DRIFTLOOP_RAY_PORT", "6391")
    assert Settings().ray_port == 6391


def test_cluster_mode_with_an_object_store_needs_a_postgresql_registry(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Writers on several nodes cannot share a file lock: the settings refuse a file registry in that
    combination when read, and a malformed object store URL or endpoint. A component with no registry URL at all
    (MLflow, the Evidently UI: they use no features) is fine until it would write, when its lock refuses."""
    from pipelines.data.storage import Folder
    from pipelines.data.writer_lock import writer_lock

    clean_env.setenv("DRIFTLOOP_MODE", "kind")
    clean_env.setenv("DRIFTLOOP_KFP_HOST", "http://ml-pipeline.kubeflow:8888")
    clean_env.setenv("DRIFTLOOP_OBJECT_STORE_URL", "s3://mlpipeline/driftloop")
    without_registry = Settings()
    with pytest.raises(DriftloopError, match="needs a PostgreSQL advisory lock .* feast-registry-reader-uri"):
        writer_lock(without_registry, "event-store", Folder.at(tmp_path))
    clean_env.setenv("DRIFTLOOP_FEAST_REGISTRY_URI", str(tmp_path / "registry.db"))
    with pytest.raises(ValidationError, match="needs a PostgreSQL DRIFTLOOP_FEAST_REGISTRY_URI"):
        Settings()
    clean_env.setenv("DRIFTLOOP_FEAST_REGISTRY_URI", "postgresql+psycopg://feast@postgres:5432/feast")
    assert Settings().object_store_url == "s3://mlpipeline/driftloop"
    for url in ("mlpipeline/driftloop", "s3://", "s3:///x"):
        clean_env.setenv("DRIFTLOOP_OBJECT_STORE_URL", url)
        with pytest.raises(ValidationError, match="s3://<bucket>"):
            Settings()
    clean_env.setenv("DRIFTLOOP_OBJECT_STORE_URL", "s3://mlpipeline")
    clean_env.setenv("DRIFTLOOP_OBJECT_STORE_ENDPOINT", "seaweedfs.kubeflow:9000")
    with pytest.raises(ValidationError, match="must start with http"):
        Settings()


# A classifier that alerts on nothing: precision at an alert budget has no budget to read.
NO_ALERTS = replace(FRAUD, metric=replace(FRAUD.metric, evidence="", alert_budget=Skip("nobody works these alerts")))


def test_the_gate_evidence_metric_must_fit_the_label(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_GATE_EVIDENCE_METRIC", "roc_auc")
    assert Settings().gate_evidence_metric == "roc_auc"
    clean_env.setenv("DRIFTLOOP_USE_CASE", "delivery")
    with pytest.raises(ValidationError) as error:
        Settings()
    assert (
        "DRIFTLOOP_GATE_EVIDENCE_METRIC=roc_auc does not fit use case 'delivery' (regression label): use one of mae"
        in str(error.value)
    )
    clean_env.setenv("DRIFTLOOP_GATE_EVIDENCE_METRIC", "mae")
    assert Settings().gate_evidence_metric == "mae"


def test_precision_at_budget_needs_a_use_case_that_alerts(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_USE_CASE", f"{__name__}:NO_ALERTS")
    assert Settings().gate_evidence_metric is None, "its own evidence metric is ROC AUC"
    clean_env.setenv("DRIFTLOOP_GATE_EVIDENCE_METRIC", "precision_at_budget")
    with pytest.raises(ValidationError, match="needs an alert budget and use case 'fraud' declares none"):
        Settings()


@pytest.mark.parametrize(
    ("variable", "value"), [("DRIFTLOOP_GATE_CONFIDENCE", "1.0"), ("DRIFTLOOP_GATE_RESAMPLES", "10")]
)
def test_an_interval_that_cannot_decide_is_refused(clean_env: pytest.MonkeyPatch, variable: str, value: str) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.removeprefix("DRIFTLOOP_").lower()):
        Settings()


def test_the_cli_reports_a_wrong_evidence_metric_in_one_line(clean_env: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    clean_env.setenv("DRIFTLOOP_GATE_EVIDENCE_METRIC", "mae")
    command = [str(Path(sys.executable).with_name("driftloop")), "config", "show"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid settings: DRIFTLOOP_GATE_EVIDENCE_METRIC=mae does not fit use case 'fraud' (binary label): "
        "use one of roc_auc, precision_at_budget"
    ]
