"""`driftloop features ...`: the Feast side of the platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from driftloop.errors import DriftloopError

app = typer.Typer(help="Feature store: apply definitions, materialise features.", no_args_is_help=True)


@app.command()
def apply() -> None:
    """Register the entities, sources and feature views of `feature_repo/` (idempotent)."""
    from driftloop.features.apply import apply_feature_repo
    from driftloop.settings import get_settings

    names = apply_feature_repo(get_settings())
    typer.echo(f"applied {len(names)} objects: {', '.join(names)}")


@app.command()
def materialize() -> None:
    """Load the latest offline feature values into the online store (what the cluster's Feast job runs).

    Before the first feature build there is nothing to load: that is reported and is not an error, so a
    fresh install's Feast job succeeds and the first training run fills both stores.
    """
    from driftloop.features.materialize import materialize_online
    from driftloop.settings import get_settings
    from pipelines.offline_store import offline_table_paths

    settings = get_settings()
    missing = [str(path) for path in offline_table_paths(settings.feast_path).values() if not path.exists()]
    if missing:
        typer.echo(f"nothing to materialise yet (no offline features at {', '.join(missing)}): train first")
        return
    materialize_online(settings, datetime.now(UTC))
    typer.echo("materialised the online store")


@app.command()
def build(
    events: Path | None = typer.Option(None, help="Events parquet. Default: <state_dir>/data/raw/events.parquet."),
    labels: Path | None = typer.Option(None, help="Labels parquet. Default: <state_dir>/data/raw/labels.parquet."),
    start: datetime | None = typer.Option(
        None, help="First hour to (re)compute, UTC. Default: the first event's hour."
    ),
    end: datetime | None = typer.Option(None, help="Last hour to (re)compute, UTC. Default: after the last event."),
) -> None:
    """Compute the offline feature tables for a window, replacing what it held (backfills and late data)."""
    import pandas as pd

    from driftloop.settings import get_settings
    from pipelines.offline_store import build_offline_features
    from pipelines.schema import EVENT_TIMESTAMP

    settings = get_settings()
    frames = [
        pd.read_parquet(path or settings.raw_data_dir / name)
        for path, name in ((events, "events.parquet"), (labels, "labels.parquet"))
    ]
    stamps = frames[0][EVENT_TIMESTAMP]
    first = start.replace(tzinfo=start.tzinfo or UTC) if start else stamps.min().floor("h").to_pydatetime()
    last = (
        end.replace(tzinfo=end.tzinfo or UTC) if end else stamps.max().floor("h").to_pydatetime() + timedelta(hours=1)
    )
    if first > last:
        raise DriftloopError(f"--start {first} is after --end {last}")
    written = build_offline_features(
        frames[0], frames[1], settings.feast_path, first, last, computed_at=datetime.now(UTC)
    )
    typer.echo(", ".join(f"{table}: {rows} rows" for table, rows in written.items()) + f" in [{first}, {last}]")
