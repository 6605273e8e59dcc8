"""The one settings object: every knob of driftloop, read from `DRIFTLOOP_*` environment variables.

Nothing else in the code reads the environment. Paths and URLs that derive from others (the MLflow
backend under the state folder, the tracking URI from host and port) are computed here, so setting
one variable moves everything that depends on it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipelines.core.use_case import EVIDENCE_METRICS, Skip, UseCase, load_use_case

Mode = Literal["local", "kind"]
ENV_PREFIX = "DRIFTLOOP_"


# Variables that were renamed: still set under the old name, they would be ignored silently.
RETIRED_VARIABLES = {  # old name: why it is refused
    "DRIFTLOOP_GATE_MIN_ROC_AUC": "it was renamed DRIFTLOOP_GATE_FLOOR (the use case declares the default)",
    "DRIFTLOOP_GATE_MAX_LABEL_RATE_RATIO": "it was renamed DRIFTLOOP_GATE_LABEL_SHIFT_RATIO (the use case declares "
    "the default)",
    "DRIFTLOOP_CHALLENGER_MODE": "the registry's aliases decide what serves: `driftloop model challenger VERSION "
    "--share P` or `driftloop model shadow VERSION`",
    "DRIFTLOOP_CHALLENGER_TRAFFIC": "the challenger's share is the registry's: `driftloop model challenger VERSION "
    "--share P`",
}
# The one place the platform names a use case: the one it runs when DRIFTLOOP_USE_CASE is not set.
DEFAULT_USE_CASE = "fraud"
# The settings whose default is the use case's own (its registry, tracking and Feast names and how long its
# labels take to mature), and where its declaration gives each.
USE_CASE_DEFAULTS: dict[str, Callable[[UseCase], Any]] = {
    "model_name": lambda use_case: use_case.model_name,
    "mlflow_experiment": lambda use_case: use_case.experiment,
    "feast_project": lambda use_case: use_case.feast_project,
    "label_maturity_days": lambda use_case: use_case.label.maturity_days,
}


def use_case_defaults(use_case: UseCase) -> dict[str, Any]:
    """The use case's defaults of the settings it owns (USE_CASE_DEFAULTS)."""
    return {name: read(use_case) for name, read in USE_CASE_DEFAULTS.items()}


class PlatformSettings(BaseModel):
    """Where the platform runs and how its processes are started and stopped."""

    mode: Mode = Field(
        "local",
        description="Where the platform runs: `local` (plain processes on this machine) or `kind` (cluster).",
    )
    use_case: str = Field(
        DEFAULT_USE_CASE,
        description="The use case the platform runs: an installed one's name (`driftloop use-case list`) or "
        "`package.module:ATTR` for one on the Python path.",
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
    startup_timeout_s: float = Field(
        120.0, gt=0, description="Seconds `local up` waits for each service to become healthy."
    )
    stop_timeout_s: float = Field(
        15.0, gt=0, description="Seconds `local down` waits after SIGTERM before it sends SIGKILL."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    target: Literal["local", "cluster"] = Field(
        "local",
        description="Where the CLI's platform commands act (`--target`): `local` (this machine's state) or `cluster` "
        "(the release kubectl reaches: the command runs in its predictor pod). The platform's own pods act `local`.",
    )
    cluster_context: str = Field(
        "kind-driftloop", description="kubeconfig context `--target cluster` reaches (`make up`'s cluster)."
    )
    cluster_namespace: str = Field(
        "kubeflow", description="Namespace of the release `--target cluster` reaches (`make up` installs it in KFP's)."
    )


class MlflowSettings(BaseModel):
    """The tracking server, the model registry and the names in them."""

    mlflow_port: int = Field(5000, ge=1, le=65535, description="Port of the MLflow tracking server.")
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
    mlflow_auth_database_uri: str | None = Field(
        None,
        description="The user store of MLflow's basic-auth app (users, passwords, permissions). Default: SQLite "
        "at `<state_dir>/mlflow/auth.db`.",
    )
    mlflow_workers: int = Field(1, ge=1, description="Worker processes of the MLflow server.")
    model_name: str = Field(description="Registered model name in MLflow. Default: the use case's.")
    mlflow_experiment: str = Field(description="MLflow experiment of training runs. Default: the use case's.")


class FeastSettings(BaseModel):
    """Where features live, offline and online, and how often they are refreshed."""

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
    online_store_timeout_s: float = Field(
        0.25,
        gt=0,
        le=5,
        description="The model servers' bound on one online-store read (Redis: socket timeouts, no retries).",
    )
    online_store_down_policy: Literal["fail_closed", "defaults"] = Field(
        "fail_closed",
        description="When the online store does not answer: `fail_closed` answers 503 with Retry-After; `defaults` "
        "scores with the documented default features, flags the answer (`degraded`) and counts it.",
    )
    feast_redis_password: SecretStr | None = Field(
        None,
        description="Password of the Redis online store (the chart passes its Secret's). Unset: none. Never "
        "printed: `config show` masks it.",
    )
    feast_registry_uri: str | None = Field(
        None,
        description="Feast registry: a file path or a SQLAlchemy URL (the cluster's holds its role's password, "
        "which `config show` masks). Default: `<feast_repo_path>/registry.db`.",
    )
    feast_project: str = Field(description="Feast project name. Default: the use case's.")
    feature_refresh_interval_s: float = Field(
        300.0,
        gt=0,
        description="How often the local scheduler refreshes features (and always just after each hour boundary).",
    )


class DatabaseSettings(BaseModel):
    """PostgreSQL's roles in the cluster: only the migration job (`driftloop database migrate`) gets these."""

    postgres_superuser_uri: SecretStr | None = Field(
        None,
        description="URL of PostgreSQL's bootstrap superuser (`postgresql://user:password@host:port/postgres`), which "
        "creates the component roles. Never printed.",
    )
    postgres_mlflow_password: SecretStr | None = Field(
        None, description="Password the migration gives the `mlflow` role. Never printed."
    )
    postgres_feast_writer_password: SecretStr | None = Field(
        None, description="Password the migration gives the `feast_writer` role. Never printed."
    )
    postgres_feast_reader_password: SecretStr | None = Field(
        None, description="Password the migration gives the `feast_reader` role. Never printed."
    )


class DataSettings(BaseModel):
    """The event store and the data contract."""

    event_store_dir: Path | None = Field(
        None,
        description="Event store: landed transactions, their late labels and the quarantine of rejected rows. "
        "Served transactions are read from the prediction log. Default: `<state_dir>/events`.",
    )
    object_store_url: str | None = Field(
        None,
        description="Keep the event store, the prediction log and the offline feature tables on an S3 object store "
        "under this prefix (e.g. `s3://mlpipeline/driftloop`), so tasks on any node read them; credentials come from "
        "`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`. Unset: local folders.",
    )
    object_store_endpoint: str | None = Field(
        None,
        description="S3 endpoint of the object store, with its scheme (e.g. `http://seaweedfs.kubeflow:9000`). "
        "Unset: AWS S3.",
    )
    data_max_age_hours: float = Field(
        72.0, gt=0, description="Data contract freshness: the newest event must be at most this old at validation."
    )
    writer_lock_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Longest wait for the event store's writer lock (a landing, a label request): past it the "
        "landing fails with a message and `POST /v1/labels` answers 503 with Retry-After.",
    )
    label_event_wait_s: float | None = Field(
        None,
        ge=0,
        description="How long `POST /v1/labels` waits for event ids it does not know yet to reach the event "
        "store (an answer from a moment ago may not be published yet), holding no worker and no lock; then "
        "404. `0`: answer unknown ids at once. Default: twice DRIFTLOOP_PREDICTION_LOG_FLUSH_S.",
    )


# What `ray start --head` takes by default: the Ray Client server (10001) and the worker ports (10002-19999).
RAY_RESERVED_PORTS = (10001, 19999)


class ComputeSettings(BaseModel):
    """Where feature tables and training sets are computed: pandas in this process, or Ray tasks (a local Ray, or a
    cluster's)."""

    feature_engine: Literal["pandas", "ray"] = Field(
        "pandas",
        description="`pandas` computes the feature views and training sets in one process; `ray` splits both by "
        "entity into `DRIFTLOOP_FEATURE_PARTITIONS` Ray tasks (identical results; see docs/benchmarks.md, scale).",
    )
    training_set_join: Literal["asof", "feast"] = Field(
        "asof",
        description="How the `pandas` engine joins a training set (and the skew check its offline vectors) to "
        "point-in-time features: `asof`, an as-of merge of the offline tables Feast's views read, by Feast's rule "
        "(the latest row in [ts - ttl, ts], the latest created on a tie; tests hold it equal to Feast's), about "
        "35x faster here; `feast`, Feast's own `get_historical_features` (its Dask file store). The `ray` engine "
        "always joins as of.",
    )
    feature_partitions: int = Field(
        16, ge=1, description="Entity partitions (id modulo this) the `ray` engine computes as separate tasks."
    )
    ray_address: str | None = Field(
        None,
        description="Ray cluster the `ray` engine joins, e.g. `ray://driftloop-ray-head:10001`. Unset: the local "
        "platform's Ray when `driftloop local up` runs one, else a local Ray started for the run and stopped "
        "after it, with the limits below.",
    )
    ray_port: int = Field(
        6390, ge=1, le=65535, description="Port of the local platform's Ray head (its GCS), when the engine is `ray`."
    )
    ray_cpus: int = Field(2, ge=1, description="CPUs of a local Ray (its tasks take one each).")
    ray_object_store_mib: int = Field(
        1024, ge=128, description="Object store memory of a local Ray (MiB); beyond it Ray spills to disk."
    )


class TrainingSettings(BaseModel):
    """Training runs (kfp.local here, the KFP API in the cluster), the gate and lineage."""

    kfp_host: str | None = Field(
        None,
        description="KFP API for retraining runs, e.g. `http://ml-pipeline:8888`; required when `mode` is `kind`.",
    )
    seed: int = Field(42, description="Default random seed of data generation and training.")
    code_version: str | None = Field(
        None, description="Code version recorded on models when git is absent (the image sets it). Default: git."
    )
    gate_floor: float | None = Field(
        None,
        description="Gate floor on the use case's primary metric: a first model must reach it (at least it when "
        "higher is better, at most it when lower is). Default: the use case's (`driftloop use-case show`).",
    )
    gate_margin: float | None = Field(
        None,
        description="Gate: a challenger is promoted only when the lower bound of its improvement over the champion "
        "on the evidence metric (same holdout, paired bootstrap) is above this (negative: it may fall behind by at "
        "most that much). Default: the use case's (`driftloop use-case show`).",
    )
    gate_evidence_metric: str | None = Field(
        None,
        description="Gate: the metric candidate and champion are compared on: `precision_at_budget` or `roc_auc` "
        "for a binary label, `mae` for a regression. Default: the use case's (`driftloop use-case show`).",
    )
    gate_resamples: int = Field(
        1000, ge=100, le=100_000, description="Gate: bootstrap resamples of the holdout behind the interval."
    )
    gate_confidence: float = Field(
        0.90,
        gt=0.5,
        lt=1,
        description="Gate: two-sided confidence of the improvement's interval (0.90: the lower bound is the 5th "
        "percentile).",
    )
    gate_min_holdout_rows: int | None = Field(
        None,
        ge=1,
        description="Gate: a candidate is judged on at least this many holdout rows, or rejected. Default: the "
        "use case's (`driftloop use-case show`).",
    )
    gate_min_holdout_positives: int | None = Field(
        None,
        ge=1,
        description="Gate: ...and at least this many positive labels among them (a classifier's). Default: the use "
        "case's (`driftloop use-case show`).",
    )
    gate_label_shift_ratio: float | None = Field(
        None,
        gt=1,
        description="Gate, label-mix guard: the window's positive rate (all labels, batch-landed, sent over HTTP) "
        "may differ from the champion's training window by at most this factor either way, or the run is held. "
        "Default: the use case's (`driftloop use-case show`).",
    )
    gate_frozen_tolerance: float | None = Field(
        None,
        ge=0,
        description="Gate: on the frozen evaluation set a candidate's metric may be at most this much worse than "
        "the champion's. Default: the use case's (`driftloop use-case show`).",
    )
    alert_budget_per_day: int | None = Field(
        None,
        ge=1,
        description="Alerts a team works per day: precision and value caught are measured on each day's top this "
        "many scores (the gate's `precision_at_budget`, estimated quality). Default: the use case's.",
    )
    holdout_days: int = Field(
        6,
        ge=1,
        description="Days at the end of the labelled data kept for evaluation (six: over five, the demo's retrained "
        "v2 was truly better at the alert budget but its interval held 0 at one start hour in 24).",
    )
    label_maturity_days: int = Field(
        ge=0,
        description="Events younger than this (vs the newest event) are left out of training: labels lag. "
        "Default: the use case's.",
    )
    training_window_days: int = Field(
        30, ge=8, description="Days of events (ending now) a training run reads from the event store."
    )
    search_trials: int = Field(
        8,
        ge=0,
        description="Trials of the hyperparameter search a drift-triggered retraining runs on Ray Tune (the use "
        "case's search space; its fixed configuration is the first trial). `0`: retrain the fixed configuration. "
        "A manual run searches when asked: `driftloop pipeline run training --search-trials N`.",
    )
    search_seconds: float = Field(
        120.0,
        gt=0,
        description="Wall-clock budget of a search (seconds): trials still running then are stopped and not chosen.",
    )
    search_validation_days: int = Field(
        4,
        ge=1,
        description="Days at the end of the training rows (before the holdout, which a search never sees) a search "
        "scores its trials on.",
    )
    warm_tasks: bool = Field(
        True,
        description="A local training run's kfp.local tasks, and `driftloop demo`'s commands, start from one process "
        "that has their modules imported (about 2 s less a task, 5 s a drift check) instead of a new interpreter "
        "each. `false`: a new interpreter each, as kfp.local does by itself. The cluster's tasks are pods either way.",
    )
    search_concurrency: int = Field(
        1,
        ge=1,
        description="Trials a search runs at once, sharing the Ray's CPUs. At 1 the same seed, window and budget "
        "always choose the same configuration; above, early stopping depends on which trial reports first.",
    )


class ServingSettings(BaseModel):
    """The KServe model servers: ports, hot swap, the prediction log (what serves is the registry's aliases)."""

    serving_topology: Literal["inprocess", "transformer"] = Field(
        "inprocess",
        description="How `driftloop local up` serves, as the chart's `serving.topology`: `inprocess`, one server "
        "(the predictor looks the online features up itself: no hop, several times the transformer's throughput); "
        "`transformer`, KServe's transformer in front of a predictor given the features.",
    )
    transformer_port: int = Field(
        8080,
        ge=1,
        le=65535,
        description="Port of the inference endpoint: the KServe transformer, or with the `inprocess` topology the "
        "predictor that looks features up itself.",
    )
    predictor_port: int = Field(
        8081, ge=1, le=65535, description="Port of the predictor behind the transformer (`transformer` topology)."
    )
    predictor_host: str | None = Field(
        None, description="`host:port` the transformer calls the predictor on. Default: `<host>:<predictor_port>`."
    )
    model_poll_interval_s: float = Field(
        5.0, gt=0, description="How often model servers check the registry aliases (hot swap of a new champion)."
    )
    max_batch_size: int = Field(1000, ge=1, description="Largest batch (instances per request) the servers accept.")
    fast_lane: bool = Field(
        True,
        description="Answer V1 JSON `:predict` on the model servers in front of KServe's FastAPI stack (same "
        "calls, same errors; V2 and everything else go through KServe). `false` sends every request through KServe.",
    )
    access_log: bool = Field(
        False,
        description="Write one line per request to a model server's log (uvicorn's access log). Off by default: "
        "requests are counted by status and timed by the servers' metrics, every answer is in the prediction log "
        "with its request id, and labels and model moves keep who sent them; the line cost about 15% of the in-process "
        "endpoint's throughput at concurrency 1.",
    )
    onnx_threads: int = Field(
        1, ge=1, description="onnxruntime threads per scoring call of fewer than 128 rows (1 suits one-row requests)."
    )
    onnx_batch_threads: int = Field(
        2,
        ge=1,
        description="onnxruntime threads per scoring call of 128 rows or more: 2 nearly halve a 1,000-row batch's "
        "time when a second core is free, and take it from concurrent requests; on busy cores the threads wait for "
        "each other (slower, twice the CPU), so set it to `DRIFTLOOP_ONNX_THREADS` there.",
    )
    prediction_log_dir: Path | None = Field(
        None,
        description="Prediction log (parquet, partitioned by hour). Default: `<state_dir>/predictions`.",
    )
    prediction_log_flush_s: float = Field(
        1.0, gt=0, description="How often the prediction log publishes its durable rows as parquet parts."
    )
    prediction_log_commit_s: float = Field(
        0.05,
        gt=0,
        le=1.0,
        description="How often answered rows are written and fsynced to the prediction log's segments (group "
        "commit): the most a SIGKILL can lose.",
    )
    prediction_log_max_waiting_rows: int = Field(
        100_000,
        ge=1,
        description="Answered rows the prediction log keeps in memory while its segments cannot be written (a full "
        "disk); past it the predictor answers 503 with Retry-After and reports not-ready.",
    )
    prediction_log_segments_dir: Path | None = Field(
        None,
        description="Local folder of the prediction log's durable segments. Default: `<prediction_log_dir>/"
        ".segments`, or `<state_dir>/prediction-log-segments` when the log is on the object store.",
    )


class StreamSettings(BaseModel):
    """The stream of answered transactions and the worker that keeps the streamed feature views fresh."""

    stream_url: str | None = Field(
        None,
        description="Where answered and landed transactions stream: unset, a SQLite log at `<state_dir>/stream/"
        "stream.db` (local); `redis://host:port[/db]`, Redis Streams with consumer groups (cluster).",
    )
    stream_password: SecretStr | None = Field(None, description="Password of the stream's Redis (AUTH), if any.")
    stream_partitions: int = Field(
        8, ge=1, le=1024, description="Partitions of each entity's stream (an entity's events stay in order in one)."
    )
    stream_workers: int = Field(
        1, ge=1, description="Stream workers sharing the partitions (worker i keeps those with number % workers == i)."
    )
    stream_worker_index: int = Field(0, ge=0, description="This stream worker's number, in [0, stream_workers).")
    stream_retention_s: float = Field(
        7200.0,
        ge=60,
        description="Seconds an entry stays in the stream: a restarted worker rebuilds its windows from them, so "
        "it must cover the longest window of any streamed view.",
    )
    stream_read_batch: int = Field(500, ge=1, description="Entries a stream worker reads and pushes at a time.")
    stream_port: int = Field(9109, ge=1, le=65535, description="Port of the stream worker's `/metrics` and health.")
    freshness_objective_s: float = Field(
        1.0, gt=0, description="Service level: seconds from an answer to its effect in the online store (p99)."
    )


class SecuritySettings(BaseModel):
    """Who may write what the platform learns from and what it serves: credentials, limits, trusted time."""

    credentials_dir: Path | None = Field(
        None,
        description="Folder of the API tokens, one file per scope (`score`, `label`, `admin`), readable by the "
        "platform's user only. Default: `<state_dir>/credentials` (local mode creates it on first use); the "
        "chart mounts its Secret here.",
    )
    max_request_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024,
        description="Largest request body the model servers read; a larger one is a 413 before it is read.",
    )
    label_requests_per_minute: int = Field(
        120, ge=1, description="`POST /v1/labels` requests each credential may send per minute (then 429)."
    )
    max_clock_skew_s: float = Field(
        5.0,
        gt=0,
        description="How far a forwarded receipt time may be from the predictor's own clock, and how far "
        "into the future any time a client sends may lie.",
    )


class MonitoringSettings(BaseModel):
    """Drift checks (Evidently), the retraining policy and the metrics (Prometheus)."""

    evidently_port: int = Field(8000, ge=1, le=65535, description="Port of the Evidently UI.")
    evidently_workspace: Path | None = Field(
        None, description="Evidently UI workspace folder. Default: `<state_dir>/evidently`."
    )
    monitor_port: int = Field(9108, ge=1, le=65535, description="Port of the drift scheduler's `/metrics`.")
    drift_window_minutes: int = Field(
        60, ge=1, description="Prediction log window (minutes) each drift check analyses."
    )
    drift_check_interval_s: float = Field(
        60.0, gt=0, description="How often the local scheduler runs a drift check (the cluster uses a CronJob)."
    )
    drift_share_threshold: float = Field(
        0.4, ge=0, le=1, description="Retrain when at least this share of monitored columns drifted..."
    )
    drift_min_rows: int = Field(200, ge=1, description="...over at least this many logged predictions.")
    retrain_cooldown_minutes: float = Field(30.0, ge=0, description="Minimum minutes between two retraining triggers.")
    retrain_on_drift: bool = Field(
        False,
        description="Retrain on drift alone. By default drift without estimated harm is recorded as `drifted_harmless` "
        "and only an estimated drop retrains (a use case without an estimate: drift decides).",
    )
    harm_margin: float = Field(
        0.0,
        ge=0,
        description="Estimated harm: the interval of the champion's estimated primary metric must lie this far past "
        "its holdout value (in the metric's units) for a window to retrain.",
    )
    canary_share: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Progressive promotion: a candidate the gate passes first answers this share of requests as "
        "`challenger`, and the monitor's sequential test promotes or rolls it back. 0: it becomes champion at once.",
    )
    canary_alpha: float = Field(
        0.05,
        gt=0,
        lt=1,
        description="Canary: the chance, at most, that the sequential test tells two equal models apart, however "
        "often the monitor looks (an always-valid p-value).",
    )
    canary_min_rows: int = Field(
        500, ge=2, description="Canary: labelled answers each arm needs before the test may decide."
    )
    canary_horizon_rows: int = Field(
        10000,
        ge=1,
        description="Canary: labelled answers per arm after which an undecided canary ends; the challenger is "
        "cleared and the champion stays.",
    )
    canary_mlflow_password: SecretStr | None = Field(
        None,
        description="Canary, cluster: the pipeline login's MLflow password in the drift job, which makes the "
        "canary's moves (its own login only reads). The chart sets it only when a canary share is set.",
    )
    estimate_window_hours: float = Field(
        48.0,
        gt=0,
        description="Hours of the champion's served answers (with an event id) whose quality is estimated for the "
        "retraining decision.",
    )
    estimate_confidence: float = Field(
        0.95, gt=0.5, lt=1, description="Confidence of the intervals of estimated quality (two-sided)."
    )
    estimate_draws: int = Field(
        200, ge=20, description="Draws of the missing labels behind each estimate and its interval."
    )
    pushgateway_url: str | None = Field(
        None, description="Prometheus Pushgateway the drift job pushes to (cluster). Unset: no push."
    )


class Settings(
    PlatformSettings,
    MlflowSettings,
    FeastSettings,
    DatabaseSettings,
    DataSettings,
    ComputeSettings,
    TrainingSettings,
    ServingSettings,
    SecuritySettings,
    MonitoringSettings,
    StreamSettings,
    BaseSettings,
):
    """driftloop configuration, one group per backend. Each field is the env var `DRIFTLOOP_<FIELD>` (upper
    case): the groups structure the definition and the documentation, the variables stay flat."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    @field_validator(
        "state_dir",
        "evidently_workspace",
        "feast_repo_path",
        "prediction_log_dir",
        "prediction_log_segments_dir",
        "event_store_dir",
        "credentials_dir",
    )
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().resolve() if value is not None else None

    @model_validator(mode="before")
    @classmethod
    def _use_case_defaults(cls, data: Any) -> Any:
        """Names and label maturity nobody set come from the use case's declaration (loaded only then)."""
        if not isinstance(data, dict):
            return data
        missing = [name for name in USE_CASE_DEFAULTS if data.get(name) is None]
        if not missing:
            return data
        declared = use_case_defaults(load_use_case(data.get("use_case") or cls.model_fields["use_case"].default))
        return {**data, **{name: declared[name] for name in missing}}

    @model_validator(mode="after")
    def _no_retired_variable(self) -> Settings:
        """A renamed setting still set under its old name would be ignored without a word: refuse it instead."""
        for old, why in RETIRED_VARIABLES.items():
            if old in os.environ:
                raise ValueError(f"{old} is no longer read: {why}")
        return self

    @model_validator(mode="after")
    def _evidence_metric_fits_the_label(self) -> Settings:
        """A metric the label cannot have (a regression's precision) would fail only at the first retraining."""
        metric = self.gate_evidence_metric
        if metric is None:
            return self
        use_case = load_use_case(self.use_case)
        kind, allowed = use_case.label.kind, EVIDENCE_METRICS[use_case.label.kind]
        if metric not in allowed:
            raise ValueError(
                f"DRIFTLOOP_GATE_EVIDENCE_METRIC={metric} does not fit use case {use_case.name!r} ({kind} label): "
                f"use one of {', '.join(allowed)}"
            )
        budget = use_case.metric.alert_budget
        if metric == "precision_at_budget" and isinstance(budget, Skip):
            raise ValueError(
                f"DRIFTLOOP_GATE_EVIDENCE_METRIC=precision_at_budget needs an alert budget and use case "
                f"{use_case.name!r} declares none ({budget.reason}): use one of "
                f"{', '.join(m for m in allowed if m != metric)}"
            )
        return self

    @model_validator(mode="after")
    def _kind_needs_the_kfp_api(self) -> Settings:
        """Cluster mode retrains through KFP: without its address the first drift trigger would fail, so
        settings that cannot work are refused when they are read, not an hour later."""
        if self.mode == "kind" and not self.kfp_host:
            raise ValueError(
                "DRIFTLOOP_MODE=kind needs DRIFTLOOP_KFP_HOST (the KFP API retraining runs are submitted to, "
                "e.g. http://ml-pipeline.kubeflow.svc.cluster.local:8888)"
            )
        return self

    @model_validator(mode="after")
    def _redis_needs_its_address(self) -> Settings:
        """The Redis online store is reached at `host:port`; a malformed address would fail only at the first
        materialisation or lookup."""
        if self.feast_online_store == "redis":
            host, _, port = self.feast_redis_url.split(",", 1)[0].rpartition(":")  # Feast's options may follow
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(
                    f"DRIFTLOOP_FEAST_ONLINE_STORE=redis needs DRIFTLOOP_FEAST_REDIS_URL as host:port, "
                    f"got {self.feast_redis_url!r}"
                )
        return self

    @model_validator(mode="after")
    def _object_store_is_s3(self) -> Settings:
        """An object store is an `s3://bucket/prefix` with an endpoint URL; in the cluster its writers, on any node,
        serialise on PostgreSQL (the Feast registry's), so a file registry there cannot work. A component that
        neither writes nor reads features (MLflow, the Evidently UI) gets no registry URL at all: its writer lock
        refuses to run without one (pipelines/data/writer_lock.py)."""
        url, endpoint = self.object_store_url, self.object_store_endpoint
        if url is not None and (not url.startswith("s3://") or not url[len("s3://") :].split("/", 1)[0]):
            raise ValueError(f"DRIFTLOOP_OBJECT_STORE_URL must be s3://<bucket>[/<prefix>], got {url!r}")
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise ValueError(f"DRIFTLOOP_OBJECT_STORE_ENDPOINT must start with http:// or https://, got {endpoint!r}")
        file_registry = self.feast_registry_uri is not None and not self.feast_registry_uri.startswith("postgresql")
        if url and self.mode == "kind" and file_registry:
            raise ValueError(
                "DRIFTLOOP_OBJECT_STORE_URL in kind mode needs a PostgreSQL DRIFTLOOP_FEAST_REGISTRY_URI: writers on "
                "different nodes take its advisory locks"
            )
        return self

    @model_validator(mode="after")
    def _ray_port_clear_of_rays_own(self) -> Settings:
        """Ray's head takes 10001 for its client server and 10002-19999 for its workers; a head port among them
        makes `ray start` fail with a port clash only when the platform starts."""
        if RAY_RESERVED_PORTS[0] <= self.ray_port <= RAY_RESERVED_PORTS[1]:
            raise ValueError(
                f"DRIFTLOOP_RAY_PORT={self.ray_port} is among the ports Ray keeps for its client server and "
                f"workers ({RAY_RESERVED_PORTS[0]}-{RAY_RESERVED_PORTS[1]}): choose another"
            )
        return self

    @model_validator(mode="after")
    def _stream_worker_among_the_workers(self) -> Settings:
        if self.stream_worker_index >= self.stream_workers:
            raise ValueError(
                f"DRIFTLOOP_STREAM_WORKER_INDEX={self.stream_worker_index} is not below "
                f"DRIFTLOOP_STREAM_WORKERS={self.stream_workers}"
            )
        if self.stream_url is not None and not self.stream_url.startswith(("redis://", "sqlite:///")):
            raise ValueError(
                f"DRIFTLOOP_STREAM_URL must be redis://host:port[/db] or sqlite:///path, got {self.stream_url!r}"
            )
        return self

    # Derived addresses (the folders are `pipelines.core.layout.Layout`'s).

    @property
    def local_ray_address(self) -> str:
        """Where the local platform's Ray head listens (what the `ray` engine joins while it runs)."""
        return f"{self.host}:{self.ray_port}"

    @property
    def bind_host(self) -> str:
        return self.bind_address or self.host

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"http://{self.host}:{self.mlflow_port}"

    @property
    def predictor_address(self) -> str:
        return self.predictor_host or f"{self.host}:{self.predictor_port}"


# The groups in the order the documentation lists them, each under its name.
SETTINGS_GROUPS: dict[str, type[BaseModel]] = {
    "platform": PlatformSettings,
    "mlflow": MlflowSettings,
    "feast": FeastSettings,
    "database": DatabaseSettings,
    "data": DataSettings,
    "compute": ComputeSettings,
    "training": TrainingSettings,
    "serving": ServingSettings,
    "security": SecuritySettings,
    "monitoring": MonitoringSettings,
    "stream": StreamSettings,
}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def env_var_name(field_name: str) -> str:
    """The environment variable that sets a settings field."""
    return f"{ENV_PREFIX}{field_name.upper()}"


def settings_environment(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """The environment a child process of ours gets: `base` (PATH, HOME, libraries' variables) with every
    `DRIFTLOOP_*` variable replaced by these settings, so the child reads exactly the settings its parent was
    given, also when they were built in code rather than read from the environment."""
    environment = {name: value for name, value in base.items() if not name.startswith(ENV_PREFIX)}
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, SecretStr):  # the child needs the secret itself, not its masked form
            value = value.get_secret_value()
        environment[env_var_name(name)] = str(value).lower() if isinstance(value, bool) else str(value)
    return environment


@contextmanager
def exported(settings: Settings) -> Iterator[None]:
    """These settings as this process's `DRIFTLOOP_*` variables for the block (the others untouched): for
    launchers that start children with their parent's environment and take none (kfp.local's runner)."""
    saved = {name: value for name, value in os.environ.items() if name.startswith(ENV_PREFIX)}
    _replace_ours(settings_environment(settings, {}))
    try:
        yield
    finally:
        _replace_ours(saved)


def _replace_ours(variables: Mapping[str, str]) -> None:
    for name in [name for name in os.environ if name.startswith(ENV_PREFIX) and name not in variables]:
        del os.environ[name]
    os.environ.update(variables)
