"""`driftloop auth`: the platform's API tokens and MLflow logins, for curl, scripts, clients and the UI."""

from __future__ import annotations

import typer

from pipelines.core.credentials import Scope, load_credentials
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import get_settings
from pipelines.registry.users import MlflowUser, mlflow_password

app = typer.Typer(
    help="Credentials: API tokens for the model servers' write routes, MLflow logins.", no_args_is_help=True
)


@app.command()
def token(
    scope: str = typer.Argument("score", help="score (predict), label (POST /v1/labels) or admin (everything)."),
) -> None:
    """Print the bearer token of one scope (local mode creates the tokens on first use)."""
    try:
        wanted = Scope(scope)
    except ValueError:
        raise DriftloopError(f"unknown scope {scope!r}: expected one of {', '.join(s.value for s in Scope)}") from None
    typer.echo(load_credentials(get_settings()).token(wanted))


@app.command("mlflow")
def mlflow_login(
    user: str = typer.Argument(
        "admin", help="admin (the UI), driftloop-pipeline, driftloop-serving or driftloop-monitor."
    ),
) -> None:
    """Print an MLflow login, `user:password`, for the UI or MLflow's own clients (local mode creates it)."""
    try:
        wanted = MlflowUser(user)
    except ValueError:
        raise DriftloopError(f"unknown MLflow user {user!r}: expected one of {', '.join(MlflowUser)}") from None
    typer.echo(f"{wanted.value}:{mlflow_password(get_settings(), wanted)}")
