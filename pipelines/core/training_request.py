"""What a training run is asked to do, and what came of it: the same for every runner."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, Protocol

from pipelines.core.settings import Settings, use_case_defaults
from pipelines.core.use_case import load_use_case


@dataclass(frozen=True)
class TrainingRequest:
    """The training pipeline's parameters; defaults come from settings. The data is the event store's
    `window_days` ending at `window_end` (ISO, UTC; empty: when the run starts). With `search_trials`, the train
    step first searches the use case's hyperparameters within that many trials and `search_seconds`. The gate's
    thresholds are not among them: the gate reads them from settings, so whoever submits a run cannot lower them."""

    window_days: int
    seed: int
    holdout_days: int
    label_maturity_days: int
    search_seconds: float
    window_end: str = ""
    params_json: str = "{}"
    shuffle_labels: bool = False
    trigger: str = "manual"
    search_trials: int = 0  # 0: the fixed configuration (a drift-triggered run asks for DRIFTLOOP_SEARCH_TRIALS)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> TrainingRequest:
        values: dict[str, Any] = {field: getattr(settings, name) for field, name in SETTING_OF_FIELD.items()}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @classmethod
    def defaults(cls, use_case: str | None = None) -> TrainingRequest:
        """The request with every setting at its declared default (the use case's where it owns one, the default
        use case's unless named): what the compiled pipeline offers a person who starts a run from the KFP UI
        (its parameters' defaults), so the numbers have one owner, Settings."""
        declared = {name: field.default for name, field in Settings.model_fields.items() if not field.is_required()}
        declared |= use_case_defaults(load_use_case(use_case or declared["use_case"]))
        return cls(**{field: declared[name] for field, name in SETTING_OF_FIELD.items()})

    def pipeline_arguments(self) -> dict[str, Any]:
        """The training pipeline's arguments, by name (tests check the pipeline takes exactly these fields)."""
        return asdict(self)


# The request fields that come from a setting, and the setting each comes from.
SETTING_OF_FIELD = {
    "window_days": "training_window_days",
    "seed": "seed",
    "holdout_days": "holdout_days",
    "label_maturity_days": "label_maturity_days",
    "search_seconds": "search_seconds",
}
REQUEST_FIELDS = tuple(field.name for field in fields(TrainingRequest))


@dataclass(frozen=True)
class TrainingOutcome:
    """How a run ended: its MLflow run, the gate's decision and the version it registered, if any."""

    status: Literal["succeeded", "failed"]
    mlflow_run_id: str
    run_url: str
    decision: str | None = None
    reason: str | None = None
    registered_version: str | None = None
    error: str | None = None


class PipelineRunner(Protocol):
    """Runs the training pipeline somewhere: to the end (`run_training`), or in the background
    (`submit`, then `is_active` until it finishes), which is how the drift monitor triggers retraining."""

    def run_training(self, request: TrainingRequest) -> TrainingOutcome: ...

    def submit(self, request: TrainingRequest) -> str:
        """Start a run without waiting; returns a handle for `is_active`."""
        ...

    def is_active(self, handle: str) -> bool:
        """Whether the run behind the handle is still pending or running."""
        ...
