"""`driftloop use-case`: which use cases are installed, what the active one declares, and a new one."""

from __future__ import annotations

from pathlib import Path

import typer

from driftloop.use_case_scaffold import next_steps, write_use_case
from driftloop.use_case_summary import describe
from pipelines.core.settings import get_settings
from pipelines.core.use_case import TargetKind, known_use_cases, load_use_case

app = typer.Typer(help="The use cases the platform can run (DRIFTLOOP_USE_CASE).", no_args_is_help=True)


@app.command("list")
def list_use_cases() -> None:
    """The installed use cases, the active one marked with *."""
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
    for line in describe(load_use_case(name or get_settings().use_case)):
        typer.echo(line)


@app.command()
def new(
    name: str = typer.Argument(
        ..., help="The new use case's name, a lowercase Python identifier: its package and DRIFTLOOP_USE_CASE."
    ),
    directory: Path = typer.Option(Path("."), "--dir", help="Where the project folder NAME/ is written."),
    kind: TargetKind = typer.Option("binary", help="The label's kind: a classifier's or a regression's."),
) -> None:
    """Write a new use case, DIR/NAME/, from the template driftloop ships: an installable package with its
    declaration, a seeded world with a drift knob, feature views and a model. Prints the next steps."""
    scaffold = write_use_case(name, directory, kind)
    typer.echo(f"wrote use case {name} ({kind} label) in {scaffold.project}:")
    for path in scaffold.files:
        typer.echo(f"  {path}")
    for line in next_steps(scaffold):
        typer.echo(line)
