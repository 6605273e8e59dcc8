"""What an operator may serve, and the registry's versions as `driftloop model` shows them.

Nothing bad may serve: a version moves into an alias only when it carries the lineage the training pipeline
registers and its training run passed the gate. The check is a pure function of what the registry says, so it
is tested without a registry; the moves themselves are pipelines/registry/model_moves.py.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipelines.registry.model_moves import MoveRefusedError
from pipelines.registry.names import Alias, RunTag, VersionTag
from pipelines.training.gate import PROMOTE

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

logger = logging.getLogger(__name__)

# What register_and_promote always writes: a version without them was not registered by the pipeline, and
# the monitor (reference sample) and an auditor (data, code, params) could not follow it.
REQUIRED_LINEAGE = (
    VersionTag.MLFLOW_RUN_ID,
    VersionTag.DATA_FINGERPRINT,
    VersionTag.CODE_COMMIT,
    VersionTag.SEED,
    VersionTag.PARAMS,
    VersionTag.FEATURE_VIEWS,
    VersionTag.GATE_REASON,
    VersionTag.REFERENCE_SAMPLE,
)


@dataclass(frozen=True)
class VersionFacts:
    """What the registry says of one model version.

    Attributes:
        version: its number, as text.
        aliases: the aliases it holds.
        tags: its model version tags (lineage).
        gate_decision: its training run's gate decision ("" when the run has none).
        created_at: when it was registered, ISO 8601 UTC.
    """

    version: str
    aliases: tuple[str, ...]
    tags: Mapping[str, str]
    gate_decision: str
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "aliases": list(self.aliases),
            "gate_decision": self.gate_decision,
            "created_at": self.created_at,
        }


def servable_refusal(facts: VersionFacts | None, wanted: str, alias: str, champion: str) -> str | None:
    """Why `wanted` may not take `alias` (None: it may): unknown, missing lineage, not passed by the gate, or
    already the champion (a challenger or shadow of the champion compares it with itself)."""
    if facts is None:
        return f"version {wanted} does not exist; `driftloop model list` shows the versions"
    missing = [str(tag) for tag in REQUIRED_LINEAGE if not facts.tags.get(tag)]
    if missing:
        return (
            f"version {wanted} lacks the lineage tags {', '.join(missing)}: only a version the training pipeline "
            "registered may serve"
        )
    if facts.gate_decision != PROMOTE:
        decision = facts.gate_decision or "none recorded"
        return f"version {wanted} did not pass the gate (its training run's decision: {decision}); it may not serve"
    if wanted == champion:
        if alias == Alias.CHAMPION:
            return f"version {wanted} is already the champion"
        return f"version {wanted} is the champion; a {alias} must be another version"
    return None


def check_servable(facts: VersionFacts | None, wanted: str, alias: str, champion: str) -> None:
    """Raise MoveRefusedError with the refusal's one line, if any."""
    refusal = servable_refusal(facts, wanted, alias, champion)
    if refusal is not None:
        raise MoveRefusedError(refusal)


def version_facts(client: MlflowClient, name: str, version: str) -> VersionFacts | None:
    """The registry's facts of one version; None when it does not exist."""
    from mlflow.exceptions import MlflowException

    if not version.isdigit():
        return None
    try:
        found = client.get_model_version(name, version)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        raise
    return _facts(client, found)


def all_versions(client: MlflowClient, name: str) -> list[VersionFacts]:
    """Every version of the model, newest first, with its aliases (a search leaves them out: read from the
    registered model)."""
    holders: dict[str, list[str]] = {}
    for alias, version in (client.get_registered_model(name).aliases or {}).items():
        holders.setdefault(str(version), []).append(str(alias))
    found = client.search_model_versions(f"name = '{name}'")
    listed = (_facts(client, v, holders.get(str(v.version), [])) for v in found)
    return sorted(listed, key=lambda facts: int(facts.version), reverse=True)


def _facts(client: MlflowClient, version: Any, aliases: list[str] | None = None) -> VersionFacts:
    run_id = version.run_id or version.tags.get(VersionTag.MLFLOW_RUN_ID, "")
    return VersionFacts(
        version=str(version.version),
        aliases=tuple(sorted(aliases if aliases is not None else version.aliases or ())),
        tags=dict(version.tags or {}),
        gate_decision=_gate_decision(client, run_id),
        created_at=datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).isoformat(),
    )


def _gate_decision(client: MlflowClient, run_id: str) -> str:
    from mlflow.exceptions import MlflowException

    if not run_id:
        return ""
    try:
        return str(client.get_run(run_id).data.tags.get(RunTag.GATE_DECISION, ""))
    except MlflowException:
        logger.warning("the training run %s of a version cannot be read", run_id, exc_info=True)
        return ""
