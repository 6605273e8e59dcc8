"""`driftloop config`: what every setting is and what it is set to."""

from __future__ import annotations

import typer

from driftloop.settings_doc import effective_values, markdown_table
from pipelines.core.settings import get_settings

app = typer.Typer(help="Show the configuration (DRIFTLOOP_* environment variables).", no_args_is_help=True)


@app.command()
def show() -> None:
    """Every variable with its value in force."""
    for name, value in effective_values(get_settings()).items():
        typer.echo(f"{name}={value}")


@app.command()
def table() -> None:
    """The configuration table as Markdown (the README's)."""
    typer.echo(markdown_table())
