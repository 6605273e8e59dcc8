"""`driftloop monitor ...`: one drift check (the CronJob's command), and what the monitor decided."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer

from pipelines.core.errors import RegistryUnreachableError
from pipelines.core.layout import Layout
from pipelines.core.settings import get_settings
from pipelines.registry.model_moves import serving_challenger
from pipelines.registry.probe import check_reachable
from pipelines.registry.tracking import client_as, gate_decisions
from pipelines.registry.users import MlflowUser

if TYPE_CHECKING:
    from pipelines.core.settings import Settings

app = typer.Typer(
    help="Drift monitoring: run a check, see the decisions, record realised quality.", no_args_is_help=True
)


@app.command("run")
def run(
    since: datetime | None = typer.Option(
        None,
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S"],
        help="Start of the window (UTC; to the microsecond if given). Default: DRIFTLOOP_DRIFT_WINDOW_MINUTES ago.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the decision the check would make; record, push and submit nothing."
    ),
) -> None:
    """Check the prediction log for drift against the champion's reference; maybe trigger retraining."""
    from driftloop.pipeline_runs.factory import runner_for  # lazy: pulls httpx
    from monitoring import metrics  # lazy: pulls prometheus_client
    from monitoring.check import run_check  # lazy: pulls pandas

    settings = get_settings()
    try:
        outcome = run_check(
            settings,
            runner_for(settings),
            since=since.replace(tzinfo=since.tzinfo or UTC) if since else None,
            dry_run=dry_run,
        )
    finally:  # a failed check's metrics too (the registry-unreachable count)
        if settings.pushgateway_url and not dry_run:
            metrics.push(settings.pushgateway_url, job=metrics.DRIFT_JOB)
    if json_output:
        typer.echo(json.dumps(outcome.as_dict(), indent=2))
        return
    if dry_run:
        typer.echo("dry run: this decision is not recorded and nothing is submitted")
    if not outcome.model_version:
        typer.echo(f"decision: {outcome.action} ({outcome.reason})")
        return
    share = "n/a" if outcome.drift_share is None else f"{outcome.drift_share:.2f}"
    typer.echo(f"window {outcome.window_key}: {outcome.rows} rows, drift share {share}")
    typer.echo(f"training/serving skew: {_skew_line(outcome.as_dict())}")
    typer.echo(f"decision: {outcome.action} ({outcome.reason})")
    if outcome.retraining_run:
        typer.echo(f"retraining submitted: {outcome.retraining_run}")


@app.command()
def status(
    last: int = typer.Option(10, min=1, help="How many recent decisions to show."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The monitor's state (last trigger, run in flight, the canary) and its recent decisions with their reasons."""
    from dataclasses import asdict

    from monitoring.canary_check import last_look  # lazy: pulls pandas
    from monitoring.check import monitor_store, pause_switch  # lazy: pulls pandas
    from monitoring.label_maturity import load_delay_summary  # lazy: pulls pandas
    from monitoring.reconciliation import load_reconciliation  # lazy: pulls pandas

    settings = get_settings()
    store = monitor_store(settings)
    state, decisions = store.load(), store.decisions(last)
    pause = pause_switch(settings).current()
    gates, serving = _from_registry(settings, last)
    look = last_look(store)
    canary = _canary(serving, look.look() if look else None)
    folder = Layout.from_settings(settings).monitor
    delay = load_delay_summary(folder)
    estimate = next((d for d in reversed(store.decisions()) if d.get("estimate")), None)
    reconciled = load_reconciliation(folder)
    if json_output:
        shown = {"state": asdict(state), "pause": pause and pause.as_dict(), "decisions": decisions,
                 "gate_decisions": gates, "canary": canary, "label_delay": delay,
                 "latest_estimate": estimate and {"model_version": estimate["model_version"],
                                                  "checked_at": estimate["checked_at"], **estimate["estimate"]},
                 "reconciliation": reconciled}  # fmt: skip
        typer.echo(json.dumps(shown, indent=2))
        return
    typer.echo(f"last trigger: {state.last_trigger_at or 'never'}; run in flight: {state.run_in_flight or 'none'}")
    typer.echo(f"loop: {pause.describe()} (`driftloop loop resume`)" if pause else "loop: running (not paused)")
    for line in _canary_lines(canary):
        typer.echo(line)
    typer.echo(_delay_line(delay))
    typer.echo(_estimate_line(estimate))
    typer.echo(_reconciliation_line(reconciled))
    for decision in decisions:
        share = decision["drift_share"]
        typer.echo(
            f"{decision['checked_at'][:19]}  v{decision['model_version']}  rows {decision['rows']:>6}  "
            f"drift {'n/a ' if share is None else f'{share:.2f}'}  skew {_skew_line(decision)}  "
            f"{decision['action']}: {decision['reason']}"
        )
    if not decisions:
        typer.echo("no drift check has run yet")
    typer.echo("training runs (gate decisions, newest first):")
    for gate in gates if isinstance(gates, list) else []:
        version = f" -> v{gate['registered_version']}" if gate["registered_version"] else ""
        typer.echo(f"  {gate['started_at'][:19]}  {gate['trigger']}  {gate['decision']}{version}: {gate['reason']}")
        if gate.get("evidence"):
            typer.echo(f"    evidence: {_evidence_line(gate['evidence'])}")
    if isinstance(gates, str):
        typer.echo(f"  {gates}")


def _delay_line(delay: dict[str, Any] | None) -> str:
    """The labels' arrival in one line, from the quality job's last fit."""
    if delay is None:
        return "labels: no arrival curve yet (`driftloop monitor quality` fits one)"
    by_class = ", ".join(f"class {k} {v} h" for k, v in delay["median_delay_h_by_class"].items())
    return (f"labels: {delay['arrived']} of {delay['events']} events labelled, median delay {delay['median_delay_h']} h"
            + (f" ({by_class})" if by_class else ""))  # fmt: skip


def _estimate_line(decision: dict[str, Any] | None) -> str:
    """The latest estimate of the champion's quality, as the drift check made it."""
    if decision is None:
        return "estimated quality: none yet (a classifier's champion with a calibration sample, once it served)"
    made = decision["estimate"]
    shown = ", ".join(
        f"{name.replace('_', ' ')} {e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"
        for name, e in made["estimates"].items()
    )
    reference = "" if made.get("reference") is None else f"; reference {made['reference']:.3f}"
    calibration = made.get("calibration")
    if calibration:
        reference += (f"; scores calibrated on {calibration['rows']} holdout rows, ECE {calibration['ece_before']:.4f}"
                      f" -> {calibration['ece_after']:.4f}")  # fmt: skip
    return (f"estimated quality of v{decision['model_version']} at {decision['checked_at'][:19]} over {made['rows']} "
            f"answers, {made['arrived_share']:.0%} of labels in: {shown}{reference}")  # fmt: skip


def _reconciliation_line(reconciled: list[dict[str, Any]]) -> str:
    """How the estimates fared once their labels came in."""
    if not reconciled:
        return "estimates reconciled: none yet (an estimate is held to the truth once 95% of its labels are in)"
    inside = sum(bool(row["covered"]) for row in reconciled)
    last = reconciled[-1]
    return (f"estimates reconciled: {len(reconciled)}, {inside} inside their interval; latest {last['metric']} "
            f"{last['estimate']:.3f} vs realised {last['realised']:.3f} (error {last['error']:+.3f})")  # fmt: skip


def _evidence_line(evidence: dict[str, Any]) -> str:
    """The improvement a run's gate weighed: metric, point, interval and what it rests on."""
    counted = f"{evidence['rows']} rows" if evidence["positives"] is None else f"{evidence['positives']} positives"
    if evidence["low"] is None or evidence["high"] is None:
        return f"{evidence['metric']} no interval: {evidence['undefined'] or 'not computed'} ({counted})"
    return (
        f"{evidence['metric']} {evidence['improvement']:+.4f} [{evidence['confidence']:.0%} CI "
        f"{evidence['low']:+.4f}, {evidence['high']:+.4f}] over {counted}"
    )


def _from_registry(settings: Settings, last: int) -> tuple[list[dict[str, Any]] | str, tuple[str, float] | None | str]:
    """The training runs' gate decisions and the challenger serving, from MLflow; a one-line note for each when
    the registry does not answer (the drift decisions and the canary's looks need no registry)."""
    try:
        check_reachable(settings.tracking_uri)  # seconds, not MLflow's minutes of retries
    except RegistryUnreachableError as error:
        return error.message, error.message
    client = client_as(settings, MlflowUser.MONITOR)
    return gate_decisions(client, settings.mlflow_experiment, last), serving_challenger(client, settings.model_name)


def _canary(serving: tuple[str, float] | None | str, look: dict[str, Any] | None) -> dict[str, Any]:
    """The canary as the registry serves it and the monitor's latest look at it (the look may be of an earlier
    canary, or of this one's end)."""
    running = serving if isinstance(serving, tuple) else None
    return {
        "running": None if isinstance(serving, str) else running is not None,
        "challenger": running and running[0],
        "share": running and running[1],
        "registry": serving if isinstance(serving, str) else None,
        "last_look": look,
    }


def _canary_lines(canary: dict[str, Any]) -> list[str]:
    look = canary["last_look"]
    if canary["running"]:
        head = f"canary: challenger v{canary['challenger']} answers {canary['share']:.0%} of requests"
    elif canary["running"] is None:
        head = f"canary: unknown ({canary['registry']})"
    else:
        head = "canary: no canary"
    if look is None:
        return [head, "  last look: none yet"]
    rows = look["rows"]
    line = (
        f"  last look {look['checked_at'][:19]}: v{look['challenger']} vs champion v{look['champion']}: "
        f"{look['decision']}, p {look['p_value']:.4g} (always valid), statistic {look['statistic']:.3f}, "
        f"rows {rows['challenger']} challenger / {rows['champion']} champion: {look['reason']}"
    )
    if look["moved"]:
        line += f"; moved: {look['moved']}"
    if look["move_error"]:
        line += f"; move failed: {look['move_error']}"
    return [head, line]


def _skew_line(decision: dict[str, object]) -> str:
    share, columns = decision.get("skew_share"), decision.get("skew_columns") or {}
    if not isinstance(share, float | int):
        return "n/a"
    named = ", ".join(f"{name} {count}" for name, count in columns.items()) if isinstance(columns, dict) else ""
    return f"{share:.2f} of {decision.get('skew_rows', 0)}" + (f" ({named})" if named else "")


@app.command()
def quality() -> None:
    """Join the event store's labels to logged predictions: the realised primary metric per model version and hour."""
    from monitoring import metrics  # lazy: pulls prometheus_client
    from monitoring.quality import record_realised_quality  # lazy: pulls pandas

    settings = get_settings()
    rows = record_realised_quality(settings)
    if settings.pushgateway_url:
        metrics.push(settings.pushgateway_url, job=metrics.QUALITY_JOB)
    if rows.empty:
        typer.echo("no logged prediction has a label yet")
        return
    typer.echo(rows.to_string(index=False))
