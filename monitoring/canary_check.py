"""The canary, judged at every drift check: the challenger's labelled answers against the champion's since the
challenger started serving, through the sequential test (monitoring/canary_sprt.py), and acted on.

It runs in `monitor run` (the CronJob's command, every minute locally) rather than `monitor quality`: the check
is the one scheduled job that already decides what the loop does, and the retraining policy must know in the
same check that a canary is running (no retraining while one is). The arms are joined to their labels by
`monitoring.quality.labelled_answers`, the join realised quality uses. Each look is recorded (the statistic,
the always-valid p-value, rows and mean loss per arm) and a decision is acted on with the recorded moves of
pipelines/registry/model_moves.py: promote makes the challenger champion and clears the challenger;
rollback and expire clear it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from monitoring.canary_sprt import (
    CONTINUE,
    EXPIRE,
    PROMOTE,
    ROLLBACK,
    ArmLosses,
    CanaryPlan,
    CanaryVerdict,
    judge,
    row_losses,
)
from monitoring.quality import labelled_answers
from monitoring.state import MonitorStore
from pipelines.core.settings import Settings
from pipelines.core.use_case import UseCase
from pipelines.data.event_store import event_store_for
from pipelines.data.label_history import latest_labels, usable_times
from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, PREDICTION, read_prediction_log
from pipelines.data.storage import prediction_log_folder
from pipelines.registry.model_moves import (
    MAX_REASON_CHARS,
    challenger_share,
    moves_from_tags,
    set_challenger,
    set_champion,
)
from pipelines.registry.names import Alias
from pipelines.registry.tracking import tracking_client
from pipelines.registry.users import MlflowUser, talking_as

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CanaryOutcome:
    """One look at the canary: what it compared, what the test said, and what was done.

    Attributes:
        checked_at: when, ISO 8601 UTC.
        champion: the champion's version.
        challenger: the challenger's version.
        share: the challenger's share of requests.
        started_at: when the challenger started serving (its recorded `challenger` move).
        verdict: the sequential test's verdict (CanaryVerdict.as_dict): decision, reason, statistic, p-value,
            the difference and each arm's rows, mean and variance of the loss.
        moved: the move made on the decision ("" when none, or on a dry run).
        move_error: why the move failed, if it did (the decision stands and the next check tries again).
        dry_run: decided, nothing recorded or moved.
    """

    checked_at: str
    champion: str
    challenger: str
    share: float
    started_at: str
    verdict: dict[str, Any]
    moved: str = ""
    move_error: str = ""
    dry_run: bool = False

    @property
    def decision(self) -> str:
        return str(self.verdict["decision"])

    @property
    def running(self) -> bool:
        """The canary goes on: retraining waits for its decision."""
        return self.decision == CONTINUE or bool(self.move_error)

    def describe(self) -> str:
        return f"challenger v{self.challenger} at {self.share:.0%} against champion v{self.champion}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def look(self) -> dict[str, Any]:
        """What an operator reads of a look (`monitor status`): when, the arms, the decision and its evidence."""
        verdict = self.verdict
        return {
            "checked_at": self.checked_at,
            "champion": self.champion,
            "challenger": self.challenger,
            "share": self.share,
            "decision": self.decision,
            "reason": verdict["reason"],
            "p_value": verdict["p_value"],
            "statistic": verdict["statistic"],
            "rows": {"champion": verdict["champion"]["rows"], "challenger": verdict["challenger"]["rows"]},
            "moved": self.moved,
            "move_error": self.move_error,
        }


def last_look(store: MonitorStore) -> CanaryOutcome | None:
    """The canary's latest recorded look, read back as `check_canary` wrote it (None before the first)."""
    records = store.canary_decisions(1)
    if not records:
        return None
    known = CanaryOutcome.__dataclass_fields__
    return CanaryOutcome(**{name: value for name, value in records[-1].items() if name in known})


def canary_plan(settings: Settings) -> CanaryPlan:
    return CanaryPlan(settings.canary_alpha, settings.canary_min_rows, settings.canary_horizon_rows)


def canary_start(tags: Mapping[str, str], challenger: str) -> datetime | None:
    """When `challenger` started answering: its newest recorded challenger move (None: set by hand in MLflow)."""
    for move in moves_from_tags(tags):
        if move.action == "challenger" and move.to_version == challenger:
            return datetime.fromisoformat(move.at)
    return None


def arm_losses(
    settings: Settings, use_case: UseCase, champion: str, challenger: str, since: datetime
) -> tuple[ArmLosses, ArmLosses]:
    """(champion, challenger) losses of their labelled answers since the canary started: the same hours of the
    same traffic, each request answered by one of them at random."""
    start = pd.Timestamp(since)
    log = read_prediction_log(prediction_log_folder(settings), since=start)
    log = log[log[LOGGED_AT] >= start] if len(log) else log
    records = usable_times(event_store_for(settings).label_records())
    answers = labelled_answers(log, latest_labels(records, use_case.label.name), use_case.label.name)
    arms = []
    for version in (champion, challenger):
        rows = answers[answers[MODEL_VERSION].astype(str) == version]
        arms.append(
            ArmLosses.of(
                row_losses(use_case.label.kind, rows[use_case.label.name].to_numpy(), rows[PREDICTION].to_numpy())
            )
        )
    return arms[0], arms[1]


def _previous_p(store: MonitorStore, challenger: str, started: str) -> float:
    """The p-value of this canary's earlier looks: always valid means the smallest seen so far."""
    for record in reversed(store.canary_decisions(200)):
        if record.get("challenger") == challenger and record.get("started_at") == started:
            return float(record["verdict"]["p_value"])
    return 1.0


def check_canary(
    settings: Settings, client: MlflowClient, use_case: UseCase, store: MonitorStore, now: datetime, dry_run: bool
) -> CanaryOutcome | None:
    """Judge the canary, if one runs (a challenger with a share above 0), record the look and act on it.
    None: no canary."""
    model = client.get_registered_model(settings.model_name)
    aliases = {str(alias): str(version) for alias, version in (model.aliases or {}).items()}
    tags = dict(model.tags or {})
    challenger, champion, share = aliases.get(Alias.CHALLENGER), aliases.get(Alias.CHAMPION), challenger_share(tags)
    if not challenger or not champion or share <= 0.0:
        return None
    if challenger == champion:  # a promotion whose clear did not happen: finish it
        if not dry_run:
            _move(settings, lambda c, who: set_challenger(c, settings.model_name, None, 0.0, who, _FINISH_CLEAR))
        return None
    started = canary_start(tags, challenger) or now
    previous = _previous_p(store, challenger, started.isoformat())
    champion_arm, challenger_arm = arm_losses(settings, use_case, champion, challenger, started)
    verdict = judge(canary_plan(settings), champion_arm, challenger_arm, previous)
    outcome = CanaryOutcome(
        now.isoformat(), champion, challenger, share, started.isoformat(), verdict.as_dict(), dry_run=dry_run
    )
    if dry_run:
        return outcome
    if verdict.decision != CONTINUE:
        outcome = _act(settings, outcome, verdict)
    store.record_canary(outcome.as_dict())
    logger.info("canary %s: %s (%s)", outcome.describe(), verdict.decision, verdict.reason)
    return outcome


_FINISH_CLEAR = "the canary's promotion made the challenger champion; its challenger alias is cleared"


def _act(settings: Settings, outcome: CanaryOutcome, verdict: CanaryVerdict) -> CanaryOutcome:
    """The decision's recorded moves: promote, then clear (a failure in between leaves the new champion serving
    and the next check finishes the clear); rollback and expire only clear."""
    name, why = settings.model_name, f"canary {verdict.decision}: {verdict.reason}"[:MAX_REASON_CHARS]

    def promote(client: MlflowClient, who: str) -> str:
        set_champion(client, name, outcome.challenger, who, why)
        set_challenger(client, name, None, 0.0, who, why)
        return f"promote v{outcome.challenger}, clear-challenger"

    def clear(client: MlflowClient, who: str) -> str:
        set_challenger(client, name, None, 0.0, who, why)
        return f"clear-challenger v{outcome.challenger}"

    actions = {PROMOTE: promote, ROLLBACK: clear, EXPIRE: clear}
    try:
        moved = _move(settings, actions[verdict.decision])
    except Exception as error:  # noqa: BLE001 - recorded; the canary keeps running and the next check retries
        logger.exception("canary %s: the %s move failed", outcome.describe(), verdict.decision)
        return CanaryOutcome(**{**outcome.as_dict(), "move_error": f"{type(error).__name__}: {error}"[:500]})
    return CanaryOutcome(**{**outcome.as_dict(), "moved": moved})


def _move(settings: Settings, action: Any) -> str:
    """Move as the pipeline's login, which makes the loop's other promotions (the monitor's own login only
    reads; in the cluster the drift job holds the pipeline's password for this only: canary_mlflow_password);
    back to the monitor's afterwards, for the rest of the check."""
    password = settings.canary_mlflow_password
    with talking_as(settings, MlflowUser.PIPELINE, password.get_secret_value() if password else None) as login:
        return str(action(tracking_client(settings.tracking_uri), login))
