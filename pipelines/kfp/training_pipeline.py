"""The training (and retraining) pipeline over a window of the event store: validate -> features -> training set
-> train (searching hyperparameters first when asked) -> evaluate -> gate -> register. Thin wiring only; the same
definition compiles for the cluster and runs in kfp.local."""

from kfp import dsl

from pipelines.core.training_request import TrainingRequest
from pipelines.kfp.cluster_wiring import wire_for_cluster
from pipelines.kfp.components import (
    build_training_set,
    compute_features,
    evaluate_model,
    gate_model,
    register_model,
    train_model,
    validate_data,
)
from pipelines.training.gate import PROMOTE

PIPELINE_NAME = "driftloop-training"
# The parameters' defaults, owned by Settings (tests/unit/test_compiled_pipeline.py checks the parameters are the
# request's fields); the runners always pass every one of them.
DEFAULTS = TrainingRequest.defaults()


@dsl.pipeline(
    name=PIPELINE_NAME, description="Train, evaluate and gate the active use case's model; promote the winner."
)
def training_pipeline(
    window_days: int = DEFAULTS.window_days,
    window_end: str = DEFAULTS.window_end,
    seed: int = DEFAULTS.seed,
    holdout_days: int = DEFAULTS.holdout_days,
    label_maturity_days: int = DEFAULTS.label_maturity_days,
    params_json: str = DEFAULTS.params_json,
    shuffle_labels: bool = DEFAULTS.shuffle_labels,
    mlflow_run_id: str = "",
    trigger: str = DEFAULTS.trigger,
    search_trials: int = DEFAULTS.search_trials,
    search_seconds: float = DEFAULTS.search_seconds,
) -> None:
    validate_task = validate_data(
        window_days=window_days,
        window_end=window_end,
        mlflow_run_id=mlflow_run_id,
        pipeline_run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
        trigger=trigger,
    )
    run_id = validate_task.outputs["run_id"]
    features_task = compute_features(run_id=run_id)
    training_set_task = build_training_set(
        events=validate_task.outputs["events"],
        labels=validate_task.outputs["labels"],
        run_id=features_task.output,
        label_maturity_days=label_maturity_days,
    )
    train_task = train_model(
        training_set=training_set_task.outputs["training_set"],
        run_id=run_id,
        seed=seed,
        params_json=params_json,
        holdout_days=holdout_days,
        shuffle_labels=shuffle_labels,
        search_trials=search_trials,
        search_seconds=search_seconds,
    )
    evaluate_task = evaluate_model(
        training_set=training_set_task.outputs["training_set"],
        model=train_task.outputs["model"],
        run_id=run_id,
        holdout_days=holdout_days,
    )
    gate_task = gate_model(
        run_id=run_id,
        candidate_score=evaluate_task.outputs["candidate_score"],
        champion_score=evaluate_task.outputs["champion_score"],
        champion_version=evaluate_task.outputs["champion_version"],
    )
    with dsl.If(gate_task.output == PROMOTE, name="gate-passed"):
        register_task = register_model(run_id=run_id, model_uri=train_task.outputs["Output"], decision=gate_task.output)
    for task in (validate_task, features_task, training_set_task, train_task, evaluate_task, gate_task, register_task):
        wire_for_cluster(task)
