"""`driftloop auth`: the platform's API credentials, for curl, scripts and clients."""

from __future__ import annotations

import typer

app = typer.Typer(help="API credentials: tokens for the model servers' write routes.", no_args_is_help=True)


@app.command()
def token(
    scope: str = typer.Argument("score", help="score (predict), label (POST /v1/labels) or admin (everything)."),
) -> None:
    """Print the bearer token of one scope (local mode creates the tokens on first use)."""
    from driftloop.core.credentials import Scope, load_credentials
    from driftloop.core.errors import DriftloopError
    from driftloop.core.settings import get_settings

    try:
        wanted = Scope(scope)
    except ValueError:
        raise DriftloopError(f"unknown scope {scope!r}: expected one of {', '.join(s.value for s in Scope)}") from None
    typer.echo(load_credentials(get_settings()).token(wanted))
