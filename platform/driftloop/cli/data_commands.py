"""`driftloop data ...`: generate demo data, or check your own against the data contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from driftloop.errors import DriftloopError

app = typer.Typer(
    help="Raw data: generate the demo's transactions, validate any data against the contract.", no_args_is_help=True
)


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else (moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@app.command()
def generate(
    out: Path | None = typer.Option(None, help="Output folder. Default: <state_dir>/data/raw."),
    seed: int | None = typer.Option(None, help="Random seed. Default: DRIFTLOOP_SEED."),
    days: int = typer.Option(30, min=1, help="Days of transactions, ending at --end."),
    customers: int = typer.Option(1000, min=1, help="Number of customers."),
    merchants: int = typer.Option(100, min=2, help="Number of merchants."),
    fraud_rate: float = typer.Option(0.02, min=0.0001, max=0.49, help="Share of fraudulent transactions."),
    end: datetime | None = typer.Option(None, help="End of the data (exclusive, UTC). Default: the current hour."),
    drift_start_day: int | None = typer.Option(
        None, help="Day (0-based) from which amounts, channel mix and the fraud pattern shift."
    ),
    drift_strength: float = typer.Option(1.0, min=0.0, help="How strongly the drift shifts distributions."),
    if_missing: bool = typer.Option(
        False, "--if-missing", help="Keep existing raw data and write nothing (the cluster's first-install seed)."
    ),
) -> None:
    """Write seeded transactions (events.parquet) and late fraud labels (labels.parquet)."""
    from driftloop.settings import get_settings
    from pipelines.data_generator import GeneratorConfig, generate, write_raw_data

    settings = get_settings()
    folder = out or settings.raw_data_dir
    if if_missing and all((folder / name).exists() for name in ("events.parquet", "labels.parquet")):
        typer.echo(f"raw data already in {folder}: left as it is")
        return
    try:
        config = GeneratorConfig(
            end=_utc(end) or datetime.now(UTC).replace(minute=0, second=0, microsecond=0),
            seed=settings.seed if seed is None else seed,
            days=days,
            customers=customers,
            merchants=merchants,
            fraud_rate=fraud_rate,
            drift_start_day=drift_start_day,
            drift_strength=drift_strength,
        )
    except ValueError as error:
        raise DriftloopError(str(error)) from error
    events, labels = generate(config)
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

    from driftloop.settings import get_settings
    from pipelines.data_contract import load_raw_data, validate_raw_data, write_report

    settings = get_settings()
    frames = load_raw_data(
        events or settings.raw_data_dir / "events.parquet", labels or settings.raw_data_dir / "labels.parquet"
    )
    result = validate_raw_data(
        *frames, as_of=_utc(as_of) or datetime.now(UTC), max_event_age=timedelta(hours=settings.data_max_age_hours)
    )
    if report:
        write_report(result, report)
    if not result.passed:
        raise DriftloopError(f"data contract violated:\n{result.summary()}")
    typer.echo(result.summary())
