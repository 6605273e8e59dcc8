"""The long-running services of local mode, each one a `driftloop serve ...` command.

The cluster chart runs the same commands in its containers; this list is the local half of that rule.
Later parts (model servers, drift scheduler) join the platform by adding a spec here.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.core.settings import Settings
from pipelines.core.use_case import load_use_case

RAY_HEAD = "ray"


@dataclass(frozen=True)
class ServiceSpec:
    """A service: the CLI arguments that start it, where it listens and how to ask if it is well (an HTTP GET
    of `health_path`, or for a `tcp` service that its port accepts a connection)."""

    name: str
    cli_args: tuple[str, ...]
    host: str
    port: int
    port_setting: str
    health_path: str
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def health_url(self) -> str:
        return f"{self.url}{self.health_path}"


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
        ),
        ServiceSpec(
            name="evidently-ui",
            cli_args=("serve", "evidently-ui"),
            host=settings.host,
            port=settings.evidently_port,
            port_setting="evidently_port",
            health_path="/api/version",
        ),
        # Liveness, not readiness: the servers are up before the first champion exists and pick it up then.
        ServiceSpec(
            name="predictor",
            cli_args=("serve", "predictor"),
            host=settings.host,
            port=settings.predictor_port,
            port_setting="predictor_port",
            health_path="/v2/health/live",
        ),
        ServiceSpec(
            name="transformer",
            cli_args=("serve", "transformer"),
            host=settings.host,
            port=settings.transformer_port,
            port_setting="transformer_port",
            health_path="/v2/health/live",
        ),
        ServiceSpec(
            name="drift-monitor",
            cli_args=("serve", "monitor"),
            host=settings.host,
            port=settings.monitor_port,
            port_setting="monitor_port",
            health_path="/metrics",
        ),
        *_stream_worker(settings),
    ]


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
            scheme="tcp",
        )
    ]
