"""`driftloop data ...`: generate demo data, or check your own against the data contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from pipelines.core.errors import DriftloopError
from pipelines.core.layout import Layout
from pipelines.core.settings import get_settings
from pipelines.core.use_case import load_use_case
from pipelines.data.schema import EVENTS_FILE, LABELS_FILE

app = typer.Typer(
    help="Data: land transactions and labels in the event store, see what it holds and compact it, generate demo "
    "data, validate any data, freeze the evaluation set.",
    no_args_is_help=True,
)
ingest_app = typer.Typer(
    help="Land batches in the event store: good rows land, bad rows are quarantined with reasons.",
    no_args_is_help=True,
)
app.add_typer(ingest_app, name="ingest")


def _land(kind: str, files: list[Path]) -> None:
    """Land each file; report counts; exit 1 when any row was quarantined (the good rows still land)."""
    import pandas as pd

    from pipelines.data.event_store import event_store_for  # lazy: pulls pandas
    from pipelines.data.landing import land_events, land_labels, read_landing_file  # lazy: pulls pandas
    from pipelines.streaming.publisher import landing_publisher  # lazy: pulls pandas

    settings = get_settings()
    store = event_store_for(settings)
    on_landed = landing_publisher(settings, store.use_case) if kind == "events" else None
    totals = {"landed": 0, "already_present": 0, "quarantined": 0}
    for path in files:
        frame, now = read_landing_file(path), pd.Timestamp.now(tz="UTC")
        result = (
            land_events(store, frame, str(path), now, on_landed)
            if kind == "events"
            else land_labels(store, frame, str(path), now)
        )
        typer.echo(result.summary())
        for key in totals:
            totals[key] += getattr(result, key)
    if len(files) > 1:
        typer.echo(", ".join(f"{value} {key.replace('_', ' ')}" for key, value in totals.items()))
    if totals["quarantined"]:
        raise DriftloopError(
            f"{totals['quarantined']} {kind} rows were quarantined in {store.quarantine_dir} (reasons per row)"
        )


@app.command("freeze-evaluation-set")
def freeze_evaluation_set(
    days: int = typer.Option(7, min=1, help="Days of events, ending DRIFTLOOP_LABEL_MATURITY_DAYS ago."),
) -> None:
    """Replace the frozen evaluation set the gate judges every candidate on (an operator's command: no endpoint
    writes it). Look at its rows and what their labels hold before you rely on it."""
    from pipelines.training.evaluation_set import freeze_from_event_store  # lazy: pulls pandas

    settings = get_settings()
    record = freeze_from_event_store(settings, days)
    label = load_use_case(settings.use_case).label
    typer.echo(f"evaluation set {record.short()} frozen: {record.describe(label)}; {record.source}")


@app.command()
def status(json_output: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """What the event store holds (landed, served, labelled, quarantined), the files no reader could parse (with
    their reasons), and how fresh the features are."""
    import json
    from dataclasses import asdict

    from pipelines.data.event_store import event_store_for  # lazy: pulls pandas
    from pipelines.features.refresh import current_watermark  # lazy: pulls pandas

    settings = get_settings()
    store = event_store_for(settings)
    watermark = current_watermark(settings)
    figures = {
        "events": len(store.events()),
        "landed_events": len(store.landed_events()),
        "served_events": len(store.served_events()),
        "labels": len(store.labels()),
        "label_records": len(store.label_records()),
        "landings": len(store.landings()),
        "parts": {
            "landed": len(store.landed.live()),
            "labels": len(store.label_parts.live()),
            "predictions": len(store.served.live()),
        },  # fmt: skip
        "quarantine_files": len(store.quarantine_dir.files("*.parquet")),
        "feature_watermark": watermark.isoformat() if watermark else None,
        "feature_freshness_s": round((datetime.now(UTC) - watermark).total_seconds(), 1) if watermark else None,
    }
    unreadable = store.unreadable()  # after the reads above: what they set aside is listed too
    if json_output:
        typer.echo(json.dumps({**figures, "unreadable_files": [asdict(record) for record in unreadable]}, indent=2))
        return
    for name, value in figures.items():
        shown = ", ".join(f"{k} {v}" for k, v in value.items()) if isinstance(value, dict) else value
        typer.echo(f"{name.replace('_', ' ')}: {shown}")
    typer.echo(f"unreadable files: {len(unreadable)}")
    for record in unreadable:
        where = f" (moved to {record.moved_to})" if record.moved_to else " (skipped by every reader)"
        typer.echo(f"  {record.file}: {record.reason}{where}")


@app.command()
def compact() -> None:
    """Compact the event store's small parts now (the feature refresh does it after every run), under the
    refresh's lock: landed and label parts the refresh has taken in, and the prediction log's."""
    from pipelines.data.compaction import compact_event_store  # lazy: pulls pandas
    from pipelines.data.event_store import event_store_for  # lazy: pulls pandas
    from pipelines.features.refresh import refresh_state_store  # lazy: pulls pandas

    settings = get_settings()
    states = refresh_state_store(settings)
    with states.locked():
        outcomes = compact_event_store(event_store_for(settings), set(states.load().parts_seen))
    for parts, outcome in outcomes.items():
        problem = f"; stopped: {outcome.errors[0]}" if outcome.errors else ""
        typer.echo(f"{parts}: {outcome.parts_in} parts into {outcome.parts_out} ({outcome.rows} rows){problem}")


@ingest_app.command("events")
def ingest_events(
    files: list[Path] = typer.Argument(..., help="Parquet files of transactions (the events contract)."),
) -> None:
    """Land events (idempotent by event_id: landing a file twice changes nothing)."""
    _land("events", files)


@ingest_app.command("labels")
def ingest_labels(
    files: list[Path] = typer.Argument(
        ...,
        help="Parquet files of labels: event_id, the use case's label (`driftloop use-case show`), label_timestamp.",
    ),
) -> None:
    """Land late labels for known events (a changed label is kept with its time; the latest wins)."""
    _land("labels", files)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _knobs(pairs: list[str]) -> dict[str, str]:
    """`--set name=value` options as a mapping (the use case's own generator knobs)."""
    knobs = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise DriftloopError(f"--set takes name=value, got {pair!r}")
        knobs[name.strip()] = value.strip()
    return knobs


@app.command()
def generate(
    out: Path | None = typer.Option(None, help="Output folder. Default: <state_dir>/data/raw."),
    seed: int | None = typer.Option(None, help="Random seed. Default: DRIFTLOOP_SEED."),
    days: int = typer.Option(30, min=1, help="Days of events, ending at --end."),
    size: int | None = typer.Option(
        None, min=1, help="The main population (the use case's first entity). Default: the use case's."
    ),
    end: datetime | None = typer.Option(None, help="End of the data (exclusive, UTC). Default: the current hour."),
    drift_start_day: int | None = typer.Option(
        None, help="Day (0-based) from which the use case's drifted feed adds events (`driftloop use-case show`)."
    ),
    drift_strength: float = typer.Option(1.0, min=0.0, help="How strong the drifted feed is (0: none)."),
    knob: list[str] = typer.Option(
        [], "--set", help="One of the use case's own generator knobs, as name=value (repeatable)."
    ),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Keep existing raw data and write nothing (the cluster's first-install seed)."
    ),
) -> None:
    """Write the active use case's seeded events (events.parquet) and late labels (labels.parquet)."""
    from pipelines.data.raw_data import arrived, generator_config, write_raw_data  # lazy: pulls pandas

    settings = get_settings()
    folder = out or Layout.from_settings(settings).raw_data
    if if_missing and all((folder / name).exists() for name in (EVENTS_FILE, LABELS_FILE)):
        typer.echo(f"raw data already in {folder}: left as it is")
        return
    generator = load_use_case(settings.use_case).generator
    config = generator_config(
        generator,
        _knobs(knob),
        end=_utc(end) or datetime.now(UTC).replace(minute=0, second=0, microsecond=0),
        seed=settings.seed if seed is None else seed,
        days=days,
        size=size,
        drift_start_day=drift_start_day,
        drift_strength=drift_strength,
    )
    events, labels = arrived(generator.generate_feeds(config), config.end)
    paths = write_raw_data(events, labels, folder, config)
    typer.echo(f"wrote {len(events)} events to {paths['events']}")
    typer.echo(f"wrote {len(labels)} labels to {paths['labels']}")


@app.command()
def validate(
    events: Path | None = typer.Option(None, help="Events parquet. Default: <state_dir>/data/raw/events.parquet."),
    labels: Path | None = typer.Option(None, help="Labels parquet. Default: <state_dir>/data/raw/labels.parquet."),
    report: Path | None = typer.Option(None, help="Also write the full report as JSON here."),
    as_of: datetime | None = typer.Option(
        None, help="Judge freshness and future timestamps as of (UTC). Default: now."
    ),
) -> None:
    """Check raw data against the contract; exit 1 with the failed checks when it breaks it."""
    from datetime import timedelta

    from pipelines.data.contract import load_raw_data, validate_raw_data, write_report  # lazy: pulls pandas

    settings = get_settings()
    raw_data = Layout.from_settings(settings).raw_data
    frames = load_raw_data(
        events or raw_data / EVENTS_FILE,
        labels or raw_data / LABELS_FILE,
    )
    use_case, max_age = load_use_case(settings.use_case), timedelta(hours=settings.data_max_age_hours)
    result = validate_raw_data(*frames, use_case, as_of=_utc(as_of) or datetime.now(UTC), max_event_age=max_age)
    if report:
        write_report(result, report)
    if not result.passed:
        raise DriftloopError(f"data contract violated:\n{result.summary()}")
    typer.echo(result.summary())
