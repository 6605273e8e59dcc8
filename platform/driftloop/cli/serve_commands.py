"""`driftloop serve ...`: one long-running server per command; containers and local mode run these."""

from __future__ import annotations

import os

import typer

app = typer.Typer(help="Run one server in the foreground (what each container runs).", no_args_is_help=True)


def _exec(command: list[str]) -> None:
    """Replace this process with the server, so signals and the pid belong to the server itself."""
    os.execv(command[0], command)


@app.command()
def mlflow() -> None:
    """MLflow tracking server and model registry."""
    from driftloop.settings import get_settings
    from driftloop.upstream_servers import mlflow_server_command

    _exec(mlflow_server_command(get_settings()))


@app.command("evidently-ui")
def evidently_ui() -> None:
    """Evidently UI over the drift snapshots workspace."""
    from driftloop.settings import get_settings
    from driftloop.upstream_servers import evidently_ui_command

    _exec(evidently_ui_command(get_settings()))
