"""What a setting left unset stands for: the value the platform actually uses in its place.

Many settings default to "unset" and are resolved where they are used (a folder under the state directory, the
tracking URI from host and port, a gate threshold from the use case). `config show` asks the same code that
resolves them, so what it prints is what runs, never `None`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pipelines
from pipelines.core.alert_budget import alert_budget
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.core.use_case import Skip, UseCase, load_use_case

# The checkout the training pipeline records its commit from (pipelines/training/steps.py's REPO_DIR).
REPO_DIR = Path(pipelines.__file__).resolve().parents[1]
Resolver = Callable[[Settings, Layout], object]


def _label_event_wait(settings: Settings, _: Layout) -> object:
    from serving.feedback import event_wait_s  # lazy: pulls pandas

    return event_wait_s(settings)


def _code_version(settings: Settings, _: Layout) -> object:
    from pipelines.registry.lineage import code_version  # lazy: pulls pandas

    version = code_version(REPO_DIR, fallback=settings.code_version)
    return f"{version.commit} (uncommitted changes)" if version.dirty else version.commit


# Settings resolved from the others (the folders are the layout's).
FROM_SETTINGS: dict[str, Resolver] = {
    "bind_address": lambda settings, _: settings.bind_host,
    "mlflow_tracking_uri": lambda settings, _: settings.tracking_uri,
    "predictor_host": lambda settings, _: settings.predictor_address,
    "mlflow_backend_store_uri": lambda _, layout: layout.mlflow_backend_store_uri,
    "mlflow_artifacts_destination": lambda _, layout: layout.mlflow_artifacts_destination,
    "mlflow_auth_database_uri": lambda _, layout: layout.mlflow_auth_database_uri,
    "feast_repo_path": lambda _, layout: layout.feast_repo,
    "feast_registry_uri": lambda _, layout: layout.feast_registry,
    "event_store_dir": lambda _, layout: layout.event_store.url,
    "prediction_log_dir": lambda _, layout: layout.prediction_log.url,
    "prediction_log_segments_dir": lambda _, layout: layout.prediction_log_segments,
    "credentials_dir": lambda _, layout: layout.credentials,
    "evidently_workspace": lambda _, layout: layout.evidently_workspace,
    "stream_url": lambda _, layout: layout.local_stream_url,
    "label_event_wait_s": _label_event_wait,
    "code_version": _code_version,
}


def _from_use_case(use_case: UseCase, settings: Settings) -> dict[str, object]:
    """The gate's thresholds and the alert budget the use case declares, as the gate reads them."""
    from pipelines.training.gate import EvidencePlan, GatePolicy  # lazy: pulls numpy (the --help budget)

    policy, plan = GatePolicy.of(use_case, settings), EvidencePlan.of(use_case, settings)
    guard = use_case.gate.label_guard
    return {
        "gate_floor": policy.floor,
        "gate_margin": policy.margin,
        "gate_evidence_metric": plan.metric,
        "gate_min_holdout_rows": policy.min_holdout_rows,
        "gate_min_holdout_positives": policy.min_holdout_positives,
        "gate_label_shift_ratio": guard if isinstance(guard, Skip) else guard.max_ratio,
        "gate_frozen_tolerance": policy.frozen_tolerance,
        "alert_budget_per_day": alert_budget(use_case, settings),
    }


def shown(value: object) -> str:
    """A resolved value as people read it: a skipped one says why."""
    return f"skipped ({value.reason})" if isinstance(value, Skip) else str(value)


def derived_values(settings: Settings) -> dict[str, str]:
    """The value in force of every unset setting the platform resolves from the other settings."""
    layout = Layout.from_settings(settings)
    return {
        name: shown(resolve(settings, layout))
        for name, resolve in FROM_SETTINGS.items()
        if getattr(settings, name) is None
    }


def use_case_values(settings: Settings) -> dict[str, str]:
    """The value in force of every unset setting whose default is the use case's declaration."""
    declared = _from_use_case(load_use_case(settings.use_case), settings)
    return {name: shown(value) for name, value in declared.items() if getattr(settings, name) is None}
