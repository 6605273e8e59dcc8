"""What a training run is asked to do, and what came of it: the same for every runner."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from driftloop.core.settings import Settings


@dataclass(frozen=True)
class TrainingRequest:
    """The training pipeline's parameters; defaults come from settings. The data is the event store's
    `window_days` ending at `window_end` (ISO, UTC; empty: when the run starts). The gate's thresholds are not
    among them: the gate reads them from settings, so whoever submits a run cannot lower them."""

    window_days: int
    seed: int
    holdout_days: int
    label_maturity_days: int
    window_end: str = ""
    params_json: str = "{}"
    shuffle_labels: bool = False
    trigger: str = "manual"

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> TrainingRequest:
        values: dict[str, Any] = {
            "window_days": settings.training_window_days,
            "seed": settings.seed,
            "holdout_days": settings.holdout_days,
            "label_maturity_days": settings.label_maturity_days,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def pipeline_arguments(self) -> dict[str, Any]:
        return asdict(self)


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
