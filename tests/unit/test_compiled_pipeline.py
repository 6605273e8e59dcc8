"""The committed KFP IR is what the cluster submits: it must match `pipelines/` and load with the SDK."""

from __future__ import annotations

from pathlib import Path

import yaml

from pipelines.kfp.compile import compile_training_pipeline

REPO = Path(__file__).resolve().parents[2]
COMMITTED = REPO / "pipelines" / "kfp" / "compiled" / "training_pipeline.yaml"
COMPONENTS = {
    "validate-data",
    "compute-features",
    "build-training-set",
    "train-model",
    "evaluate-model",
    "gate-model",
    "register-model",
}


def test_committed_ir_is_up_to_date(tmp_path: Path) -> None:
    fresh = compile_training_pipeline(tmp_path / "training_pipeline.yaml")
    assert list(yaml.safe_load_all(fresh.read_text())) == list(yaml.safe_load_all(COMMITTED.read_text())), (
        "pipelines/kfp/compiled/training_pipeline.yaml is stale: run `driftloop pipeline compile`"
    )


def test_ir_loads_with_the_sdk_and_names_every_component() -> None:
    from kfp import components

    pipeline = components.load_component_from_file(str(COMMITTED))
    assert pipeline.name == "driftloop-training"
    # Two documents: the pipeline spec, then the Kubernetes platform config (pipelines/kfp/cluster_wiring.py).
    spec, platform = yaml.safe_load_all(COMMITTED.read_text())
    assert set(platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]) == set(
        spec["deploymentSpec"]["executors"]
    )
    names = {name.removeprefix("comp-") for name in spec["components"]}
    assert names >= COMPONENTS
    conditions = [
        task["triggerPolicy"]["condition"] for task in spec["root"]["dag"]["tasks"].values() if "triggerPolicy" in task
    ]
    assert conditions == ["inputs.parameter_values['pipelinechannel--gate-model-Output'] == 'promote'"]
    gated = spec["components"]["comp-condition-1"]["dag"]["tasks"]
    assert set(gated) == {"register-model"}, "only registration may sit behind the gate"
    executors = spec["deploymentSpec"]["executors"]
    assert all(e["container"]["image"].startswith("driftloop:") for e in executors.values())
    assert not any("pip install" in " ".join(e["container"]["command"]) for e in executors.values())


def test_the_pipelines_parameters_are_the_training_requests_fields_with_the_settings_defaults() -> None:
    """One owner for the training defaults: the pipeline takes exactly the request's fields (and the run id its
    runner makes), and offers the declared settings' defaults, in the committed IR too."""
    import inspect

    from pipelines.core.settings import Settings
    from pipelines.core.training_request import REQUEST_FIELDS, SETTING_OF_FIELD, TrainingRequest
    from pipelines.kfp.training_pipeline import training_pipeline

    signature = inspect.signature(training_pipeline.pipeline_func)
    assert set(signature.parameters) == {*REQUEST_FIELDS, "mlflow_run_id"}
    defaults = TrainingRequest.defaults()
    for field in REQUEST_FIELDS:
        assert signature.parameters[field].default == getattr(defaults, field), field
    for field, setting in SETTING_OF_FIELD.items():
        assert getattr(defaults, field) == getattr(Settings(), setting), field
    assert set(TrainingRequest.from_settings(Settings()).pipeline_arguments()) == set(REQUEST_FIELDS)
    spec, _ = yaml.safe_load_all(COMMITTED.read_text())
    declared = spec["root"]["inputDefinitions"]["parameters"]
    assert {name: declared[name].get("defaultValue") for name in SETTING_OF_FIELD} == {
        field: getattr(defaults, field) for field in SETTING_OF_FIELD
    }
