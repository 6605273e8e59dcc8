"""Moving the aliases that decide what serves, each move recorded with who, why, when, from and to.

The record lives on the registered model, beside the aliases it explains: both modes reach it, MLflow's auth
decides who may write it, and a move and its record are written by the same login. Each move is a tag of its
own (`move.<UTC microseconds>.<nonce>`), written once and never rewritten, so two movers cannot lose each
other's record. Serving only reads the aliases and the challenger's share (serving/model_slots.py).
"""

from __future__ import annotations

import json
import logging
import math
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipelines.core.errors import DriftloopError
from pipelines.registry.names import Alias, ModelTag
from pipelines.registry.probe import check_reachable

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

MAX_REASON_CHARS = 1000  # a reason is a sentence, not a document; the registry keeps every one forever


class MoveRefusedError(DriftloopError):
    """A move that would serve something it must not, or has nothing to move to."""


@dataclass(frozen=True)
class Move:
    """One recorded move of an alias.

    Attributes:
        action: promote, rollback, challenger, shadow, clear-challenger or clear-shadow.
        alias: the alias that moved.
        from_version: the version that held it before ("" when none).
        to_version: the version that holds it after ("" when cleared).
        who: the MLflow login that moved it.
        why: the mover's reason.
        at: when, ISO 8601 UTC.
        share: the challenger's share of requests after the move (challenger moves only).
    """

    action: str
    alias: str
    from_version: str
    to_version: str
    who: str
    why: str
    at: str
    share: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Move:
        fields = json.loads(text)
        return cls(**{name: fields.get(name) for name in cls.__dataclass_fields__})


def new_move(
    action: str,
    alias: str,
    before: str | None,
    after: str | None,
    who: str,
    why: str,
    share: float | None = None,
    at: datetime | None = None,
) -> Move:
    """A move stamped now (UTC), refused when it gives no reason: a move nobody can explain cannot be audited."""
    reason = why.strip()
    if not reason:
        raise MoveRefusedError("a move needs a reason: pass --reason 'why this version should serve'")
    if len(reason) > MAX_REASON_CHARS:
        raise MoveRefusedError(f"the reason is {len(reason)} characters; keep it under {MAX_REASON_CHARS}")
    stamp = (at or datetime.now(UTC)).astimezone(UTC).isoformat()
    return Move(action, str(alias), before or "", after or "", who, reason, stamp, share)


def move_key(move: Move, nonce: str | None = None) -> str:
    """The tag key of a move: its time in whole microseconds (sorts as text), and a nonce for two at once."""
    micros = round(datetime.fromisoformat(move.at).timestamp() * 1_000_000)
    return f"{ModelTag.MOVE}.{micros:020d}.{nonce or secrets.token_hex(3)}"


def moves_from_tags(tags: Mapping[str, str], last: int | None = None) -> list[Move]:
    """The recorded moves among a registered model's tags, newest first."""
    keys = sorted((key for key in tags if key.startswith(f"{ModelTag.MOVE}.")), reverse=True)
    return [Move.from_json(tags[key]) for key in keys[:last]]


def challenger_share(tags: Mapping[str, str]) -> float:
    """The challenger's share of requests from the registered model's tags: absent or unreadable is 0, so a
    challenger set by hand without a share answers nothing until someone says how much."""
    try:
        share = float(tags.get(ModelTag.CHALLENGER_SHARE, "0"))
    except ValueError:
        logger.warning("unreadable %s tag %r; the challenger answers nothing", ModelTag.CHALLENGER_SHARE, tags)
        return 0.0
    return min(max(share, 0.0), 1.0) if math.isfinite(share) else 0.0


def serving_challenger(client: MlflowClient, name: str) -> tuple[str, float] | None:
    """(version, share) of the canary challenger while one answers requests: a challenger other than the
    champion with a share above 0 (what serving splits traffic on). None otherwise, and before the model exists."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    aliases = {str(alias): str(version) for alias, version in (model.aliases or {}).items()}
    challenger, share = aliases.get(Alias.CHALLENGER), challenger_share(dict(model.tags or {}))
    if not challenger or challenger == aliases.get(Alias.CHAMPION) or share <= 0.0:
        return None
    return challenger, share


def check_share(share: float) -> None:
    """A canary's share is a fraction of requests above 0 (clearing is its own move) and at most 1."""
    if not (math.isfinite(share) and 0.0 < share <= 1.0):
        raise MoveRefusedError(f"--share {share} is not a share of requests: give a number in (0, 1]")


def record_move(client: MlflowClient, name: str, move: Move) -> None:
    client.set_registered_model_tag(name, move_key(move), move.to_json())
    before, after = move.from_version or "none", move.to_version or "none"
    logger.info("%s@%s: %s -> %s by %s (%s)", name, move.alias, before, after, move.who, move.why)


def recorded_moves(client: MlflowClient, name: str, last: int | None = None) -> list[Move]:
    return moves_from_tags(client.get_registered_model(name).tags, last)


def alias_holders(client: MlflowClient, name: str) -> dict[str, str]:
    """Every alias of the model and the version holding it, in one request; a clear error within seconds when
    the registry does not answer or has no such model."""
    from mlflow.exceptions import MlflowException

    check_reachable(client.tracking_uri)
    try:
        model = client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise MoveRefusedError(
                f"the registry has no model {name} yet: run `driftloop pipeline run training`"
            ) from error
        raise
    return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}


def _holder(client: MlflowClient, name: str, alias: str) -> str:
    return alias_holders(client, name).get(alias, "")


def set_champion(client: MlflowClient, name: str, version: str, who: str, why: str) -> Move:
    """Make `version` the champion; the champion it replaces becomes `previous-champion` first, so a failure
    in between leaves a rollback target that is still the champion (a rollback then refuses, nothing breaks)."""
    before = _holder(client, name, Alias.CHAMPION)
    move = new_move("promote", Alias.CHAMPION, before, version, who, why)
    if before and before != version:
        client.set_registered_model_alias(name, Alias.PREVIOUS_CHAMPION, before)
    client.set_registered_model_alias(name, Alias.CHAMPION, version)
    record_move(client, name, move)
    return move


def rollback_champion(client: MlflowClient, name: str, who: str, why: str) -> Move:
    """Put `previous-champion` back as champion and drop that alias: a rollback undoes one promotion, and a
    second rollback refuses instead of flipping back to the version just rolled away from."""
    before, target = _holder(client, name, Alias.CHAMPION), _holder(client, name, Alias.PREVIOUS_CHAMPION)
    if not target or target == before:
        raise MoveRefusedError(
            f"{name} has no previous champion to roll back to (champion: {before or 'none'}); "
            "`driftloop model list` shows the moves"
        )
    move = new_move("rollback", Alias.CHAMPION, before, target, who, why)
    client.set_registered_model_alias(name, Alias.CHAMPION, target)
    client.delete_registered_model_alias(name, Alias.PREVIOUS_CHAMPION)
    record_move(client, name, move)
    return move


def set_challenger(client: MlflowClient, name: str, version: str | None, share: float, who: str, why: str) -> Move:
    """Serve `version` as the canary at `share` of requests (None clears it). The share is written before the
    alias: a new challenger never answers at the old one's share."""
    before = _holder(client, name, Alias.CHALLENGER)
    if version is None:
        move = new_move("clear-challenger", Alias.CHALLENGER, before, None, who, why, share=0.0)
        if before:
            client.delete_registered_model_alias(name, Alias.CHALLENGER)
        client.set_registered_model_tag(name, ModelTag.CHALLENGER_SHARE, "0")
    else:
        check_share(share)
        move = new_move("challenger", Alias.CHALLENGER, before, version, who, why, share=share)
        client.set_registered_model_tag(name, ModelTag.CHALLENGER_SHARE, repr(float(share)))
        client.set_registered_model_alias(name, Alias.CHALLENGER, version)
    record_move(client, name, move)
    return move


def set_shadow(client: MlflowClient, name: str, version: str | None, who: str, why: str) -> Move:
    """Score a copy of every request with `version` and only log it (None clears it)."""
    before = _holder(client, name, Alias.SHADOW)
    move = new_move("shadow" if version else "clear-shadow", Alias.SHADOW, before, version, who, why)
    if version is not None:
        client.set_registered_model_alias(name, Alias.SHADOW, version)
    elif before:
        client.delete_registered_model_alias(name, Alias.SHADOW)
    record_move(client, name, move)
    return move
