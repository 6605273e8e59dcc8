"""The long-running services of local mode, each one a `driftloop serve ...` command.

The cluster chart runs the same commands in its containers; this list is the local half of that rule.
Later parts (model servers, drift scheduler) join the platform by adding a spec here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.settings import Settings, env_var_name
from pipelines.core.use_case import load_use_case

RAY_HEAD = "ray"
# The model servers: which of them run depends on `serving_topology` (`_model_servers`); one left running from the
# other topology is stale (`LocalPlatform.up`).
MODEL_SERVERS = ("predictor", "transformer")

# Which settings each service reads, so that `local up` can tell a service started with other values of them
# (start_settings). Our own servers load the use case, the feature definitions and the whole settings object, and
# the monitor starts jobs that read any of it: they read every setting but the few below that they provably do not.
# The upstream servers read what their command lines and start are built from (driftloop.upstream_servers,
# driftloop.mlflow_auth, driftloop.evidently_ui, the credentials), no more.
LAUNCHER_ONLY = frozenset({"startup_timeout_s", "stop_timeout_s"})  # `driftloop local`'s own waits
SERVE_READS = frozenset({"log_level", "mode"})  # every `driftloop serve ...`, before its server starts
UPSTREAM_READS = {
    "mlflow": SERVE_READS
    | {
        "host",
        "bind_address",
        "mlflow_port",
        "mlflow_workers",
        "mlflow_allowed_hosts",
        "state_dir",
        "mlflow_backend_store_uri",
        "mlflow_artifacts_destination",
        "mlflow_auth_database_uri",
        "credentials_dir",
    },
    "evidently-ui": SERVE_READS
    | {"host", "bind_address", "evidently_port", "evidently_workspace", "state_dir", "credentials_dir"},
    RAY_HEAD: SERVE_READS | {"host", "ray_port", "ray_cpus", "ray_object_store_mib"},
}
# Settings only the model servers read (which of them run, and as what): a change makes only those stale.
MODEL_SERVER_READS = frozenset({"serving_topology"})
# Settings one service alone reads (its own port, its server's flags): a change makes only that one stale.
PRIVATE_READS = {
    "mlflow": frozenset({"mlflow_workers", "mlflow_allowed_hosts"}),
    "evidently-ui": frozenset({"evidently_port"}),
    "transformer": frozenset({"transformer_port"}),
    "drift-monitor": frozenset({"monitor_port"}),
    "stream-worker": frozenset({"stream_port"}),
}


@dataclass(frozen=True)
class ServiceSpec:
    """A service: the CLI arguments that start it, where it listens and how to ask if it is well (an HTTP GET
    of `health_path`, or for a `tcp` service that its port accepts a connection). `reads` names the environment
    variables of the settings it reads (`reads_of`)."""

    name: str
    cli_args: tuple[str, ...]
    host: str
    port: int
    port_setting: str
    health_path: str
    reads: frozenset[str]
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"


def reads_of(name: str) -> frozenset[str]:
    """The environment variables of the settings service `name` reads (see UPSTREAM_READS and PRIVATE_READS)."""
    if name in UPSTREAM_READS:
        fields = frozenset(UPSTREAM_READS[name])
    else:
        others = [private for service, private in PRIVATE_READS.items() if service != name]
        if name not in MODEL_SERVERS:
            others.append(MODEL_SERVER_READS)
        fields = frozenset(Settings.model_fields).difference(LAUNCHER_ONLY, *others)
    return frozenset(env_var_name(field) for field in fields)


def local_services(settings: Settings) -> list[ServiceSpec]:
    """Every service `driftloop local up` starts, in start order (the Ray head first: the others' jobs join it)."""
    return [
        *_ray_head(settings),
        ServiceSpec(
            name="mlflow",
            cli_args=("serve", "mlflow"),
            host=settings.host,
            port=settings.mlflow_port,
            port_setting="mlflow_port",
            health_path="/health",
            reads=reads_of("mlflow"),
        ),
        ServiceSpec(
            name="evidently-ui",
            cli_args=("serve", "evidently-ui"),
            host=settings.host,
            port=settings.evidently_port,
            port_setting="evidently_port",
            health_path="/api/version",
            reads=reads_of("evidently-ui"),
        ),
        *_model_servers(settings),
        ServiceSpec(
            name="drift-monitor",
            cli_args=("serve", "monitor"),
            host=settings.host,
            port=settings.monitor_port,
            port_setting="monitor_port",
            health_path="/metrics",
            reads=reads_of("drift-monitor"),
        ),
        *_stream_worker(settings),
    ]


def _model_servers(settings: Settings) -> list[ServiceSpec]:
    """The inference endpoint on `transformer_port`, in the chart's topology (`serving_topology`, the chart's
    `serving.topology`): the predictor looking features up itself, or the transformer in front of a predictor
    given the features on `predictor_port`. Liveness, not readiness: the servers are up before the first champion
    exists and pick it up then."""
    if settings.serving_topology == "inprocess":
        endpoint = str(settings.transformer_port)
        return [
            ServiceSpec(
                name="predictor",
                cli_args=("serve", "predictor", "--with-features", "--port", endpoint),
                host=settings.host,
                port=settings.transformer_port,
                port_setting="transformer_port",
                health_path="/v2/health/live",
                # It listens on the endpoint's port; its own one is the transformer topology's.
                reads=reads_of("predictor").difference({env_var_name("predictor_port")})
                | {env_var_name("transformer_port")},
            )
        ]
    return [
        ServiceSpec(
            name="predictor",
            cli_args=("serve", "predictor"),
            host=settings.host,
            port=settings.predictor_port,
            port_setting="predictor_port",
            health_path="/v2/health/live",
            reads=reads_of("predictor"),
        ),
        ServiceSpec(
            name="transformer",
            cli_args=("serve", "transformer"),
            host=settings.host,
            port=settings.transformer_port,
            port_setting="transformer_port",
            health_path="/v2/health/live",
            reads=reads_of("transformer"),
        ),
    ]


def inference_url(settings: Settings) -> str:
    """Where clients score and send labels, whichever the topology: the transformer or the in-process predictor."""
    return f"http://{settings.host}:{settings.transformer_port}"


def _stream_worker(settings: Settings) -> list[ServiceSpec]:
    """The stream worker, when the use case has streamed views (it keeps them fresh in the online store)."""
    if not any(view.streamed for view in load_use_case(settings.use_case).views):
        return []
    return [
        ServiceSpec(
            name="stream-worker",
            cli_args=("serve", "stream"),
            host=settings.host,
            port=settings.stream_port,
            port_setting="stream_port",
            health_path="/metrics",
            reads=reads_of("stream-worker"),
        )
    ]


def _ray_head(settings: Settings) -> list[ServiceSpec]:
    """The `ray` engine's Ray head, when that engine is chosen and no cluster address is given: feature builds,
    the hourly refresh and training-set steps then join it instead of starting a Ray of their own each time."""
    if settings.feature_engine != "ray" or settings.ray_address not in (None, settings.local_ray_address):
        return []  # (the platform points its own commands at its head: that address is still ours)
    return [
        ServiceSpec(
            name=RAY_HEAD,
            cli_args=("serve", "ray"),
            host=settings.host,
            port=settings.ray_port,
            port_setting="ray_port",
            health_path="",
            reads=reads_of(RAY_HEAD),
            scheme="tcp",
        )
    ]
