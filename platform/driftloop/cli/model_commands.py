"""`driftloop model ...`: see the versions and move what serves (champion, canary challenger, shadow).

Every move names a reason and is recorded with the MLflow login it was made as; the model servers pick it up
at their next poll of the registry (DRIFTLOOP_MODEL_POLL_INTERVAL_S) and swap without failing a request.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer

from pipelines.core.settings import get_settings
from pipelines.registry.model_moves import (
    Move,
    MoveRefusedError,
    alias_holders,
    challenger_share,
    check_share,
    moves_from_tags,
    rollback_champion,
    set_challenger,
    set_champion,
    set_shadow,
)
from pipelines.registry.names import Alias
from pipelines.registry.tracking import client_as
from pipelines.registry.users import MlflowUser, acting_login

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

app = typer.Typer(
    help="Models: list the versions, promote, roll back, set a canary challenger or a shadow.", no_args_is_help=True
)

REASON = typer.Option(..., "--reason", help="Why: recorded with the move, who made it and when.")


def _operator() -> tuple[MlflowClient, str, str]:
    """(client, model name, who): the CLI moves aliases as the platform's admin login (a person's exported
    MLflow login wins); MLflow's auth refuses a login that may not write the registered model."""
    settings = get_settings()
    who = acting_login(settings, MlflowUser.ADMIN)
    return client_as(settings, MlflowUser.ADMIN), settings.model_name, who


def _champion(client: MlflowClient, name: str) -> str:
    return alias_holders(client, name).get(Alias.CHAMPION, "")


def _check_servable(client: MlflowClient, name: str, version: str, alias: Alias) -> None:
    """Refuse, with one line, a version that may not take `alias` (model_control.servable_refusal)."""
    from driftloop.model_control import check_servable, version_facts  # lazy: the gate's module pulls numpy

    check_servable(version_facts(client, name, version), version, alias, _champion(client, name))


def _say(move: Move) -> None:
    share = f" at share {move.share:g}" if move.share else ""
    before, after = move.from_version or "none", move.to_version or "none"
    typer.echo(f"{move.alias}: {before} -> {after}{share} ({move.action} by {move.who}: {move.why})")
    typer.echo("the model servers swap at their next registry poll")


@app.command("list")
def list_versions(
    moves: int = typer.Option(5, "--moves", min=0, help="How many of the latest moves to show."),
    json_output: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """The versions with their aliases, gate decision and creation time; the canary share; the last moves."""
    from driftloop.model_control import all_versions  # lazy: the gate's module pulls numpy

    client, name, _ = _operator()
    alias_holders(client, name)  # a clear error when the registry is away or has no such model
    versions = all_versions(client, name)
    tags = client.get_registered_model(name).tags
    recorded, share = moves_from_tags(tags, moves), challenger_share(tags)
    if json_output:
        shown = {
            "model": name,
            "challenger_share": share,
            "versions": [facts.as_dict() for facts in versions],
            "moves": [asdict(move) for move in recorded],
        }
        typer.echo(json.dumps(shown, indent=2))
        return
    if not versions:
        typer.echo(f"{name} has no versions yet: run `driftloop pipeline run training`")
        return
    typer.echo(f"{'version':>7}  {'aliases':<28}  {'gate':<8}  created (UTC)")
    for facts in versions:
        aliases = ", ".join(facts.aliases) or "-"
        gate = facts.gate_decision or "-"
        typer.echo(f"{facts.version:>7}  {aliases:<28}  {gate:<8}  {facts.created_at[:19]}")
    typer.echo(f"challenger share: {share:g}")
    typer.echo("moves (newest first):" if recorded else "no recorded moves")
    for move in recorded:
        before, after = move.from_version or "none", move.to_version or "none"
        share_note = f" share {move.share:g}" if move.share else ""
        line = f"  {move.at[:19]}  {move.action:<16} {move.alias}: {before} -> {after}{share_note}"
        typer.echo(f"{line}  by {move.who}: {move.why}")


@app.command()
def promote(version: str = typer.Argument(..., help="The version to make champion."), reason: str = REASON) -> None:
    """Make VERSION the champion; the current one becomes the rollback target."""
    client, name, who = _operator()
    _check_servable(client, name, version, Alias.CHAMPION)
    _say(set_champion(client, name, version, who, reason))


@app.command()
def rollback(reason: str = REASON) -> None:
    """Put back the champion the last promotion replaced (once: a second rollback refuses)."""
    client, name, who = _operator()
    _say(rollback_champion(client, name, who, reason))


@app.command()
def challenger(
    version: str | None = typer.Argument(None, help="The version to serve as the canary."),
    share: float | None = typer.Option(None, "--share", help="Share of requests it answers, in (0, 1]."),
    clear: bool = typer.Option(False, "--clear", help="Stop serving a challenger."),
    reason: str = REASON,
) -> None:
    """Serve VERSION as the canary challenger on --share of requests, or --clear it."""
    client, name, who = _operator()
    if clear:
        if version is not None or share is not None:
            raise MoveRefusedError("--clear takes no VERSION and no --share")
        _say(set_challenger(client, name, None, 0.0, who, reason))
        return
    if version is None or share is None:
        raise MoveRefusedError("give VERSION and --share P (or --clear)")
    check_share(share)
    _check_servable(client, name, version, Alias.CHALLENGER)
    _say(set_challenger(client, name, version, share, who, reason))


@app.command()
def shadow(
    version: str | None = typer.Argument(None, help="The version to score every request in shadow."),
    clear: bool = typer.Option(False, "--clear", help="Stop scoring in shadow."),
    reason: str = REASON,
) -> None:
    """Score a copy of every request with VERSION and only log its answers, or --clear it."""
    client, name, who = _operator()
    if clear == (version is not None):
        raise MoveRefusedError("give VERSION or --clear")
    if version is not None:
        _check_servable(client, name, version, Alias.SHADOW)
    _say(set_shadow(client, name, version, who, reason))
