"""`driftloop config`: what every setting is and what it is set to."""

from __future__ import annotations

import json
import os

import typer

from driftloop.settings_doc import markdown_table, shown_settings
from pipelines.core.settings import get_settings

app = typer.Typer(
    help="The configuration (DRIFTLOOP_* environment variables): the values in force, or the table of them all.",
    no_args_is_help=True,
)


@app.command()
def show(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: variable -> {value, source}."),
) -> None:
    """Every variable as `NAME=value  # source`: the value in force (an unset one's resolved value, e.g. a path
    under the state folder), and whether it came from the environment, its default, the other settings
    (derived) or the use case. Passwords are masked."""
    shown = shown_settings(get_settings(), os.environ)
    if as_json:
        typer.echo(json.dumps({s.variable: {"value": s.value, "source": s.source} for s in shown}, indent=2))
        return
    for setting in shown:
        source = "default (unset)" if setting.value is None else setting.source
        typer.echo(f"{setting.variable}={setting.value or ''}  # {source}")


@app.command()
def table() -> None:
    """The configuration table as Markdown (docs/configuration.md's, which `make docs` regenerates)."""
    typer.echo(markdown_table())
