"""The one settings object: every knob of driftloop, read from `DRIFTLOOP_*` environment variables.

Nothing else in the code reads the environment. Paths and URLs that derive from others (the MLflow
backend under the state folder, the tracking URI from host and port) are computed here, so setting
one variable moves everything that depends on it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Mode = Literal["local", "kind"]


class Settings(BaseSettings):
    """driftloop configuration. Each field is the env var `DRIFTLOOP_<FIELD>` (upper case)."""

    model_config = SettingsConfigDict(env_prefix="DRIFTLOOP_", extra="ignore", frozen=True)

    mode: Mode = Field(
        "local",
        description="Where the platform runs: `local` (plain processes on this machine) or `kind` (cluster).",
    )
    state_dir: Path = Field(
        Path(".driftloop"),
        description="Folder for all local state: databases, artifacts, logs, pid files. "
        "Relative paths are taken from the working directory.",
    )
    host: str = Field("127.0.0.1", description="Host the services are reached on (and bind to by default).")
    bind_address: str | None = Field(
        None, description="Interface servers bind to. Default: `host`; containers set `0.0.0.0`."
    )
    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow tracking server.")
    evidently_port: int = Field(8000, ge=1, le=65535, description="Port of the Evidently UI.")
    transformer_port: int = Field(8080, ge=1, le=65535, description="Port of the KServe transformer.")
    predictor_port: int = Field(8081, ge=1, le=65535, description="Port of the KServe predictor.")
    mlflow_tracking_uri: str | None = Field(
        None, description="Tracking URI clients use. Default: `http://<host>:<mlflow_port>`."
    )
    mlflow_backend_store_uri: str | None = Field(
        None, description="MLflow backend store. Default: SQLite at `<state_dir>/mlflow/mlflow.db`."
    )
    mlflow_artifacts_destination: str | None = Field(
        None, description="Where the MLflow server stores artifacts. Default: `<state_dir>/mlflow/artifacts`."
    )
    mlflow_allowed_hosts: str | None = Field(
        None,
        description="Comma-separated Host headers the MLflow server accepts (cluster: its service name).",
    )
    mlflow_workers: int = Field(1, ge=1, description="Worker processes of the MLflow server.")
    evidently_workspace: Path | None = Field(
        None, description="Evidently UI workspace folder. Default: `<state_dir>/evidently`."
    )
    feast_repo_path: Path | None = Field(
        None,
        description="Feast data folder (offline parquet, SQLite online store, registry). Default: `<state_dir>/feast`.",
    )
    feast_online_store: Literal["sqlite", "redis"] = Field(
        "sqlite", description="Feast online store: `sqlite` (local default) or `redis` (cluster default)."
    )
    feast_redis_url: str = Field(
        "127.0.0.1:6379", description="Redis `host:port` when the Feast online store is `redis`."
    )
    feast_registry_uri: str | None = Field(
        None,
        description="Feast registry: a file path or a SQLAlchemy URL. Default: `<feast_repo_path>/registry.db`.",
    )
    feast_project: str = Field("driftloop", description="Feast project name.")
    model_name: str = Field("fraud-detector", description="Registered model name in MLflow.")
    startup_timeout_s: float = Field(
        120.0, gt=0, description="Seconds `local up` waits for each service to become healthy."
    )
    stop_timeout_s: float = Field(
        15.0, gt=0, description="Seconds `local down` waits after SIGTERM before it sends SIGKILL."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("state_dir", "evidently_workspace", "feast_repo_path")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    # Derived locations: one place computes them so every part agrees.
    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def bind_host(self) -> str:
        return self.bind_address or self.host

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"http://{self.host}:{self.mlflow_port}"

    @property
    def backend_store_uri(self) -> str:
        return self.mlflow_backend_store_uri or f"sqlite:///{self.state_dir / 'mlflow' / 'mlflow.db'}"

    @property
    def artifacts_destination(self) -> str:
        return self.mlflow_artifacts_destination or str(self.state_dir / "mlflow" / "artifacts")

    @property
    def evidently_workspace_path(self) -> Path:
        return self.evidently_workspace or self.state_dir / "evidently"

    @property
    def feast_path(self) -> Path:
        return self.feast_repo_path or self.state_dir / "feast"

    @property
    def feast_registry(self) -> str:
        return self.feast_registry_uri or str(self.feast_path / "registry.db")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def env_var_name(field_name: str) -> str:
    """The environment variable that sets a settings field."""
    return f"DRIFTLOOP_{field_name.upper()}"
