"""`driftloop features ...`: the Feast side of the platform."""

from __future__ import annotations

import typer

app = typer.Typer(help="Feature store: apply definitions, materialise features.", no_args_is_help=True)


@app.command()
def apply() -> None:
    """Register the entities, sources and feature views of `feature_repo/` (idempotent)."""
    from driftloop.features.apply import apply_feature_repo
    from driftloop.settings import get_settings

    names = apply_feature_repo(get_settings())
    typer.echo(f"applied {len(names)} objects: {', '.join(names)}")
