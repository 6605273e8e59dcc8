"""How `driftloop pipeline runs` and `pipeline get` print run records: a table of runs, one run with its steps."""

from __future__ import annotations

import typer

from driftloop.pipeline_runs.run_record import RunRecord


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


def _steps_summary(record: RunRecord) -> str:
    done = sum(step.status == "succeeded" for step in record.steps)
    failed = [step.name for step in record.steps if step.status == "failed"]
    return f"{done}/{len(record.steps)} ok" + (f", failed: {', '.join(failed)}" if failed else "")


def show_runs(records: list[RunRecord]) -> None:
    if not records:
        typer.echo("no pipeline runs yet (`driftloop pipeline submit FILE` starts one)")
        return
    header = f"{'RUN':<22} {'PIPELINE':<22} {'MODE':<5} {'STATUS':<10} {'STEPS':<18} {'SUBMITTED (UTC)':<20} DURATION"
    typer.echo(header)
    for record in records:
        submitted = record.submitted_at[:19].replace("T", " ")
        typer.echo(
            f"{record.id:<22} {record.pipeline[:22]:<22} {record.mode:<5} {record.status:<10} "
            f"{_steps_summary(record):<18} {submitted:<20} {_seconds(record.duration_s)}"
        )


def show_run(record: RunRecord) -> None:
    lines = [
        f"run        {record.id} ({record.mode}{f', KFP run {record.kfp_run_id}' if record.kfp_run_id else ''})",
        f"pipeline   {record.pipeline} from {record.source}{f' ({record.function})' if record.function else ''}",
        f"status     {record.status}{f': {record.error}' if record.error else ''}",
        f"submitted  {record.submitted_at} by {record.submitted_by}; took {_seconds(record.duration_s)}",
        f"parameters {', '.join(f'{k}={v!r}' for k, v in record.parameters.items()) or '-'}",
    ]
    if record.mlflow_run_id:
        lines.append(f"MLflow run {record.mlflow_run_url or record.mlflow_run_id}")
    if record.model_version:
        lines.append(f"model      version {record.model_version}")
    if record.log:
        lines.append(f"log        {record.log}")
    lines.append("steps")
    lines += [f"  {step.name:<24} {step.status:<10} {_seconds(step.duration_s)}" for step in record.steps]
    typer.echo("\n".join(lines))
