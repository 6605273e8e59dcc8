"""`driftloop use-case`: which use cases are installed, and what the active one declares."""

from __future__ import annotations

import typer

app = typer.Typer(help="The use cases the platform can run (DRIFTLOOP_USE_CASE).", no_args_is_help=True)


@app.command("list")
def list_use_cases() -> None:
    """The installed use cases, the active one marked with *."""
    from pipelines.core.settings import get_settings
    from pipelines.core.use_case import known_use_cases

    active = get_settings().use_case
    for name in known_use_cases():
        typer.echo(f"{'*' if name == active else ' '} {name}")
    if ":" in active:
        typer.echo(f"* {active}")


@app.command()
def show(
    name: str | None = typer.Argument(None, help="A use case's name or package.module:ATTR. Default: active."),
) -> None:
    """What a use case declares: its events, label, features, model, metric and gate, and what it skips."""
    from driftloop.use_case_summary import describe
    from pipelines.core.settings import get_settings
    from pipelines.core.use_case import load_use_case

    for line in describe(load_use_case(name or get_settings().use_case)):
        typer.echo(line)
