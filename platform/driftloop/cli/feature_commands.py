"""`driftloop features ...`: the Feast side of the platform."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from pipelines.core.errors import DriftloopError
from pipelines.core.settings import get_settings
from pipelines.core.use_case import load_use_case
from pipelines.data.storage import feature_data_folder
from pipelines.features.compute_engine import open_engine

app = typer.Typer(
    help="Feature store: apply definitions; build, refresh and materialise features; training sets; freshness and "
    "the streamed views' parity.",
    no_args_is_help=True,
)


@app.command()
def apply() -> None:
    """Register the entities, sources and feature views of `feature_repo/` (idempotent)."""
    from driftloop.features.apply import apply_feature_repo  # lazy: pulls pandas

    names = apply_feature_repo(get_settings())
    typer.echo(f"applied {len(names)} objects: {', '.join(names)}")


@app.command()
def status(
    _as_json: bool = typer.Option(
        False, "--json", help="Print one JSON object (it always does; the flag every status command takes)."
    ),
) -> None:
    """The features' freshness: the hourly refresh's watermark and age, and each stream's backlog and lag (how far
    the stream worker is behind the answers), as JSON."""
    import json

    from pipelines.streaming.status import feature_status  # lazy: pulls pandas

    typer.echo(json.dumps(feature_status(get_settings()), indent=2))


@app.command()
def parity(
    sample: int = typer.Option(1000, min=1, help="Online rows to sample per streamed view."),
    seed: int = typer.Option(0, help="Seed of the sample."),
) -> None:
    """Hold live online rows of each streamed view against the replay of the event store; exit 1 on any
    mismatch (rows still waiting for the event store are `pending`, rows the worker had not caught up `behind`)."""
    import json

    from pipelines.streaming.status import live_parity  # lazy: pulls pandas and Feast

    results = live_parity(get_settings(), sample, seed)
    for result in results:
        typer.echo(json.dumps(result.__dict__))
    mismatched = sum(result.mismatched for result in results)
    if mismatched:
        raise DriftloopError(f"{mismatched} online rows differ from the replay (examples above)")


@app.command()
def materialize() -> None:
    """Load the latest offline feature values into the online store (what the cluster's Feast job runs).

    Before the first feature build there is nothing to load: that is reported and is not an error, so a
    fresh install's Feast job succeeds and the first training run fills both stores.
    """
    from pipelines.features.offline_store import missing_tables  # lazy: pulls pandas
    from pipelines.features.store import materialize_online  # lazy: pulls yaml

    settings = get_settings()
    missing = missing_tables(feature_data_folder(settings), load_use_case(settings.use_case))
    if missing:
        typer.echo(f"nothing to materialise yet (no offline features at {', '.join(missing)}): train first")
        return
    materialize_online(settings, datetime.now(UTC))
    typer.echo("materialised the online store")


@app.command()
def refresh() -> None:
    """Recompute features since the watermark (and wherever a landing changed the past) and materialise them.

    What the local scheduler runs every DRIFTLOOP_FEATURE_REFRESH_INTERVAL_S and the cluster's CronJob hourly.
    """
    from monitoring import metrics  # lazy: pulls prometheus_client
    from pipelines.data.event_store import event_store_for  # lazy: pulls pandas
    from pipelines.features.refresh import refresh_features  # lazy: pulls pandas

    settings = get_settings()
    outcome = refresh_features(settings)
    watermark = datetime.fromisoformat(outcome.watermark).timestamp() if outcome.watermark else None
    metrics.record_feature_refresh(watermark, outcome.freshness_s, outcome.events_read, outcome.rows_written)
    compacted = {parts: run.parts_in for parts, run in outcome.compaction.items()}
    metrics.record_store_health(event_store_for(settings).unreadable_counts(), compacted)
    if settings.pushgateway_url:
        metrics.push(settings.pushgateway_url, job=metrics.FEATURE_REFRESH_JOB)
    if not outcome.rows_written:
        typer.echo(f"nothing to refresh: {outcome.reason}")
        return
    rows = ", ".join(f"{view} {count}" for view, count in outcome.rows_written.items())
    typer.echo(f"features {outcome.reason} from {outcome.events_read} events ({rows} rows); "
               f"online store fresh to {outcome.watermark}")  # fmt: skip
    if any(compacted.values()):
        typer.echo("compacted " + ", ".join(f"{parts} {count} parts" for parts, count in compacted.items() if count))


@app.command()
def build(
    start: datetime = typer.Option(..., help="First hour to (re)compute, UTC."),
    end: datetime | None = typer.Option(None, help="Last hour to (re)compute, UTC. Default: the current hour."),
) -> None:
    """Recompute the offline feature tables for a window from the event store, replacing what it held
    (a backfill; `refresh` already recomputes whatever a landing changed)."""
    from pipelines.features.refresh import build_features_from_store, hour_floor, lookback  # lazy: pulls pandas

    settings = get_settings()
    first = hour_floor(start.replace(tzinfo=start.tzinfo or UTC))
    last = hour_floor(end.replace(tzinfo=end.tzinfo or UTC) if end else datetime.now(UTC))
    if first > last:
        raise DriftloopError(f"--start {first} is after --end {last}")
    with open_engine(settings) as engine:
        read_from = first - lookback(load_use_case(settings.use_case))
        events, written = build_features_from_store(settings, read_from, first, last, datetime.now(UTC), engine)
    if events == 0:
        raise DriftloopError("the event store holds no events before --end; land some with `driftloop data ingest`")
    typer.echo(", ".join(f"{table}: {rows} rows" for table, rows in written.items()) + f" in [{first}, {last}]")


@app.command("training-set")
def training_set(
    events: Path = typer.Option(..., exists=True, dir_okay=False, help="Events parquet (a validated snapshot)."),
    labels: Path = typer.Option(..., exists=True, dir_okay=False, help="Labels parquet of those events."),
    out: Path = typer.Option(..., dir_okay=False, help="Where to write the training set (parquet)."),
    label_maturity_days: int = typer.Option(7, min=0, help="Leave out the newest days, whose labels are incomplete."),
) -> None:
    """Join labelled events to their point-in-time features from the offline tables: what the training
    pipeline's training-set step runs, on the engine DRIFTLOOP_FEATURE_ENGINE chooses."""
    from pipelines.features.training_set_build import training_set_from_snapshot  # lazy: pulls pandas

    settings = get_settings()
    with open_engine(settings) as engine:
        frame = training_set_from_snapshot(settings, events, labels, label_maturity_days, engine)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(out, index=False)
    typer.echo(f"training set: {len(frame)} rows ({settings.feature_engine} engine) -> {out}")
