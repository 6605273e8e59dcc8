"""Where everything of one platform lives: every folder of the state directory has its one owner here.

Before this object, five modules built `state_dir / "monitor"` (and locks, scratch, demo...) on their own, so a
folder moved in one place and not in another. `Layout.from_settings` is the only code that joins a name to the
state directory; the rest of the platform asks the layout. Shared data (the event store, the prediction log, the
offline tables, scratch space) is a `Location`: a local folder, or a prefix on the object store in the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pipelines.core.settings import Settings


@dataclass(frozen=True)
class Location:
    """A folder of shared data: a local path, or an object-store URL prefix and the endpoint that serves it."""

    url: str
    endpoint: str | None = None

    @property
    def remote(self) -> bool:
        return "://" in self.url


@dataclass(frozen=True)
class Layout:
    """The platform's folders and stores, derived once from the settings (a setting may move any of them)."""

    state_dir: Path
    logs: Path  # one log file per local process and per pipeline run
    run: Path  # the local processes' records (pid, start time, command)
    raw_data: Path  # what `driftloop data generate` writes and `data ingest` reads by default
    pipeline_root: Path  # kfp.local's artifacts
    pipeline_runs: Path  # one record per submitted pipeline run, both modes (`driftloop pipeline runs`)
    credentials: Path  # API tokens and the local MLflow users' passwords (0700)
    evidently_workspace: Path
    feast_repo: Path  # feature_store.yaml, the file registry and the SQLite online store (local mode)
    monitor: Path  # the drift job's state, its training references and the quality snapshots' index
    evaluation: Path  # the frozen evaluation set
    locks: Path  # file locks of writers to an object store
    demo: Path  # the demo's lake exports and summary
    mlflow: Path  # the local MLflow server's database, auth store and artifacts
    mlflow_backend_store_uri: str
    mlflow_auth_database_uri: str
    mlflow_artifacts_destination: str
    feast_registry: str
    prediction_log_segments: Path  # always on this machine's disk: an fsync is what makes a row durable
    stream: Path  # the local stream of answered transactions (SQLite), when no stream URL is set
    event_store: Location
    prediction_log: Location
    feature_data: Location  # the offline tables (`offline/<view>`) and the refresh state
    scratch: Location  # what a partitioned job's tasks on other nodes read and write

    @property
    def monitor_references(self) -> Path:
        """Each model version's training reference, downloaded once from MLflow."""
        return self.monitor / "reference"

    @property
    def quality_snapshots(self) -> Path:
        return self.monitor / "quality_snapshots.json"

    @property
    def local_stream_url(self) -> str:
        """The stream when no stream URL is set: a SQLite log in the state folder."""
        return f"sqlite:///{self.stream / 'stream.db'}"

    @property
    def demo_lake(self) -> Path:
        return self.demo / "lake"

    @property
    def demo_summary(self) -> Path:
        return self.demo / "summary.json"

    @property
    def feast_registry_is_postgresql(self) -> bool:
        """The registry is a PostgreSQL database (the cluster's), whose advisory locks writers can share."""
        return self.feast_registry.startswith("postgresql")

    @property
    def local_mlflow_exists(self) -> bool:
        """A local platform has run in this state folder (its MLflow folder is there)."""
        return self.mlflow.exists()

    @classmethod
    def from_settings(cls, settings: Settings) -> Layout:
        state = settings.state_dir
        mlflow = state / "mlflow"
        feast_repo = settings.feast_repo_path or state / "feast"
        prediction_log = settings.prediction_log_dir or state / "predictions"
        if settings.prediction_log_segments_dir:
            segments = settings.prediction_log_segments_dir
        elif settings.object_store_url:
            segments = state / "prediction-log-segments"
        else:
            segments = prediction_log / ".segments"

        def shared(prefix: str, local: Path) -> Location:
            if settings.object_store_url:
                return Location(f"{settings.object_store_url.rstrip('/')}/{prefix}", settings.object_store_endpoint)
            return Location(str(local))

        return cls(
            state_dir=state,
            logs=state / "logs",
            run=state / "run",
            raw_data=state / "data" / "raw",
            pipeline_root=state / "kfp",
            pipeline_runs=state / "pipeline_runs",
            credentials=settings.credentials_dir or state / "credentials",
            evidently_workspace=settings.evidently_workspace or state / "evidently",
            feast_repo=feast_repo,
            monitor=state / "monitor",
            evaluation=state / "evaluation",
            locks=state / "locks",
            demo=state / "demo",
            mlflow=mlflow,
            mlflow_backend_store_uri=settings.mlflow_backend_store_uri or f"sqlite:///{mlflow / 'mlflow.db'}",
            mlflow_auth_database_uri=settings.mlflow_auth_database_uri or f"sqlite:///{mlflow / 'auth.db'}",
            mlflow_artifacts_destination=settings.mlflow_artifacts_destination or str(mlflow / "artifacts"),
            feast_registry=settings.feast_registry_uri or str(feast_repo / "registry.db"),
            prediction_log_segments=segments,
            stream=state / "stream",
            event_store=shared("events", settings.event_store_dir or state / "events"),
            prediction_log=shared("predictions", prediction_log),
            feature_data=shared("feast", feast_repo),
            scratch=shared("scratch", state / "scratch"),
        )
