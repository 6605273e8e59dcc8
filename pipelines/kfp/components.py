"""KFP v2 components of the training pipeline (no `from __future__ import annotations`: KFP reads the
annotations as types). Each body imports its step and calls it: the logic lives
in `pipelines.training.steps`, testable without KFP, and the image already holds every package (no pip at run).
"""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from pipelines.core import __version__

# The driftloop image `make up` builds and loads into kind; local runs ignore it.
PIPELINE_IMAGE = f"driftloop:{__version__}"


def _component(func):
    return dsl.component(func, base_image=PIPELINE_IMAGE, install_kfp_package=False)


@_component
def validate_data(
    window_days: int,
    window_end: str,
    mlflow_run_id: str,
    pipeline_run_id: str,
    trigger: str,
    report: Output[Artifact],
    events: Output[Dataset],
    labels: Output[Dataset],
) -> NamedTuple("ValidationOutputs", run_id=str, data_fingerprint=str):
    """Read the training window from the event store and check the data contract; a violation fails the run
    here, with the report logged to MLflow. `events` and `labels` are exactly what was read and checked."""
    from collections import namedtuple

    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    settings = get_settings()
    run_id = steps.ensure_run(settings, mlflow_run_id, pipeline_run_id, trigger)
    fingerprint = steps.validate(settings, window_days, window_end, run_id, report.path, events.path, labels.path)
    return namedtuple("ValidationOutputs", ["run_id", "data_fingerprint"])(run_id, fingerprint)


@_component
def compute_features(run_id: str) -> str:
    """Refresh the offline feature tables and the online store up to the current hour (idempotent)."""
    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    steps.compute_features(get_settings(), run_id)
    return run_id


@_component
def build_training_set(
    events: Input[Dataset], labels: Input[Dataset], run_id: str, label_maturity_days: int, training_set: Output[Dataset]
) -> None:
    """Join the window's labelled transactions to their point-in-time features through Feast."""
    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    steps.build_training_set(get_settings(), events.path, labels.path, run_id, label_maturity_days, training_set.path)


@_component
def train_model(
    training_set: Input[Dataset],
    run_id: str,
    seed: int,
    params_json: str,
    holdout_days: int,
    shuffle_labels: bool,
    search_trials: int,
    search_seconds: float,
    model: Output[Model],
) -> str:
    """Fit the model with an explicit seed (first searching its hyperparameters on Ray Tune, within
    `search_trials` trials and `search_seconds`, when asked); returns the MLflow model URI."""
    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    return steps.train(
        get_settings(), training_set.path, run_id, seed, params_json, holdout_days, shuffle_labels, model.path,
        search_trials=search_trials, search_seconds=search_seconds,
    )  # fmt: skip


@_component
def evaluate_model(
    training_set: Input[Dataset], model: Input[Model], run_id: str, holdout_days: int, metrics: Output[Metrics]
) -> NamedTuple("EvaluationOutputs", candidate_score=float, champion_score=float, champion_version=str):
    """Score the candidate and the champion on the same time-based holdout (the use case's primary metric)."""
    import math
    from collections import namedtuple

    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    candidate, champion, version = steps.evaluate(get_settings(), training_set.path, model.path, run_id, holdout_days)
    metrics.log_metric("candidate_score", candidate)
    if version:
        metrics.log_metric("champion_score", champion)
    outputs = namedtuple("EvaluationOutputs", ["candidate_score", "champion_score", "champion_version"])
    return outputs(candidate, -1.0 if math.isnan(champion) else champion, version)


@_component
def gate_model(run_id: str, candidate_score: float, champion_score: float, champion_version: str) -> str:
    """`promote` or `reject`, recorded with its reason on the MLflow run (the use case's thresholds and the
    settings' overrides only)."""
    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    return steps.gate(get_settings(), run_id, candidate_score, champion_score, champion_version)


@_component
def register_model(run_id: str, model_uri: str, decision: str) -> str:
    """Register the model version with its lineage and move `champion` (refuses without a passing gate)."""
    from pipelines.core.settings import get_settings
    from pipelines.training import steps

    return steps.register_and_promote(get_settings(), run_id, model_uri, decision)
