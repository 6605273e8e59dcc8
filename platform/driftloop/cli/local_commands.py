"""`driftloop local ...`: the local platform as plain processes."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from pipelines.core.layout import Layout
from pipelines.core.settings import get_settings

if TYPE_CHECKING:
    from driftloop.local.runtime import LocalPlatform

app = typer.Typer(help="Run the platform locally as plain processes (no Docker).", no_args_is_help=True)

EXIT_NOT_ALL_HEALTHY = 3


def _platform() -> LocalPlatform:
    from driftloop.local.runtime import LocalPlatform  # lazy: pulls httpx

    return LocalPlatform(get_settings())


@app.command()
def up(
    restart: bool = typer.Option(
        False, "--restart", help="Restart the running services that were started with other settings than these."
    ),
) -> None:
    """Start the services (mlflow, evidently-ui, the model servers, drift-monitor; stream-worker when the use
    case has streamed views; ray first when DRIFTLOOP_FEATURE_ENGINE=ray and no DRIFTLOOP_RAY_ADDRESS is set),
    apply the Feast repo, and wait until each is healthy. The model servers follow DRIFTLOOP_SERVING_TOPOLOGY, as
    the chart does: the predictor looking features up itself on DRIFTLOOP_TRANSFORMER_PORT (`inprocess`, the
    default), or the transformer there in front of a predictor (`transformer`). A running service is kept as it
    is when it was started with the current values of the settings it reads; otherwise `up` names the changed
    settings and exits 1 before starting anything, or with --restart restarts just those services (and stops a
    model server the topology no longer runs)."""
    platform = _platform()
    result = platform.up(report=lambda line: typer.echo(f"  {line}"), restart=restart)
    for name in result.already_running:
        typer.echo(f"  {name}: already running")
    typer.echo("driftloop local platform is up:")
    for service in platform.status():
        typer.echo(f"  {service.name:<14} {service.url:<28} pid {service.pid}  {service.state}")
    typer.echo(f"logs: {Layout.from_settings(platform.settings).logs}")


@app.command()
def down() -> None:
    """Stop every process `local up` started, with its children."""
    platform = _platform()
    stopped = platform.down(report=lambda line: typer.echo(f"  {line}"))
    typer.echo(f"stopped {len(stopped)} service(s)" if stopped else "nothing was running")


@app.command()
def status(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Each service with URL, pid, health, resident memory (its whole process session) and log file. Exits 3
    unless every service is healthy."""
    platform = _platform()
    services = platform.status()
    if as_json:
        typer.echo(json.dumps({"services": [asdict(s) for s in services]}, indent=2))
    else:
        for s in services:
            pid = s.pid if s.pid is not None else "-"
            memory = f"{s.rss_mib:,.0f} MiB" if s.rss_mib is not None else "-"
            typer.echo(f"{s.name:<14} {s.state:<10} {s.url:<28} pid {pid!s:<8} {memory:>10}  log {s.log}")
        running = [s.rss_mib for s in services if s.rss_mib is not None]
        if running:
            typer.echo(f"{'total':<14} {'':<10} {'':<28} {'':<12} {sum(running):>10,.0f} MiB resident")
    if not all(s.healthy for s in services):
        raise typer.Exit(EXIT_NOT_ALL_HEALTHY)
