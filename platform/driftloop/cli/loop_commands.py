"""`driftloop loop pause | resume | status`: hold the loop's retraining while the monitor keeps watching."""

from __future__ import annotations

import json

import typer

from driftloop.operator_identity import operator_identity
from monitoring.loop_pause import PAUSED, PauseSwitch
from pipelines.core.layout import Layout
from pipelines.core.settings import get_settings

app = typer.Typer(
    help="The retraining loop: pause it (the drift monitor keeps measuring and recording), resume it, see which.",
    no_args_is_help=True,
)


def _switch() -> PauseSwitch:
    return PauseSwitch(Layout.from_settings(get_settings()).monitor)


@app.command()
def pause(reason: str = typer.Option("", help="Why, recorded with the pause and every decision it holds.")) -> None:
    """Hold retraining: each drift check still measures and records its decision, but submits no run."""
    switch = _switch()
    current, began = switch.pause(operator_identity(), reason)
    if not began:
        typer.echo(f"already paused ({current.describe()}); nothing changed")
        return
    typer.echo(f"loop {current.describe()}")
    typer.echo(f"drift checks reading {switch.folder} record their decisions and submit no retraining run")


@app.command()
def resume(reason: str = typer.Option("", help="Why, recorded with the resume.")) -> None:
    """Let the loop retrain again: the next drift check may trigger, on a window the pause held too."""
    ended = _switch().resume(operator_identity(), reason)
    if ended is None:
        typer.echo("the loop was not paused; nothing changed")
        return
    typer.echo(f"loop resumed; the pause ended was {ended.describe()}")


@app.command()
def status(
    last: int = typer.Option(5, min=1, help="How many recent pauses and resumes to show."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Paused or running, the pause's who, when and why, and the recent pauses and resumes."""
    switch = _switch()
    current, history = switch.current(), switch.history(last)
    if json_output:
        shown = {"paused": current is not None, "pause": current and current.as_dict(), "history": history}
        typer.echo(json.dumps(shown, indent=2))
        return
    typer.echo(f"loop: {current.describe()}" if current else "loop: running (not paused)")
    for event in history:
        at = event["paused_at"] if event["event"] == PAUSED else event["resumed_at"]
        why = f": {event['reason']}" if event.get("reason") else ""
        typer.echo(f"  {at[:19]}  {event['event']} by {event['by']}{why}")
