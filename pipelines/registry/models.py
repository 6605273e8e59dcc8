"""Log, register and promote models in MLflow: the registry is where lineage lives.

A model version carries its lineage as tags (data fingerprint, code version, pipeline run, seed,
feature views, metrics) so a reader of the registry alone can trace it. The alias `champion` moves only
through `promote`, which the pipeline calls only after the gate said so.
"""

from __future__ import annotations

import logging
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipelines.registry.names import Alias, VersionTag
from pipelines.registry.onnx_model import ONNX_ARTIFACT_PATH
from pipelines.registry.probe import check_reachable
from pipelines.registry.tracking import fluent_tracking

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient
    from sklearn.pipeline import Pipeline

logger = logging.getLogger(__name__)

# Pinned from the running environment: inferring requirements would cost seconds per model.
REFERENCE_ARTIFACT_DIR = "reference"
REFERENCE_SAMPLE_FILE = "reference_sample.parquet"
CALIBRATION_SAMPLE_PATH = "calibration/holdout_scores.parquet"  # columns score, label (monitoring reads them)
SERVING_PACKAGES = ("scikit-learn", "numpy", "pandas", "scipy", "cloudpickle")


def pip_requirements() -> list[str]:
    return [f"{package}=={version(package)}" for package in SERVING_PACKAGES]


def warm_requirements_map() -> None:
    """Build MLflow's map of installed packages to modules now: logging a model checks the pinned requirements
    against it, and building it reads every installed distribution's metadata (0.23 s). A process that forks the
    steps which log models (the local task host) builds it once for all of them. A warm-up only: an MLflow
    without that map logs models as before."""
    from mlflow.utils import requirements_utils

    build = getattr(requirements_utils, "_init_packages_to_modules_map", None)
    if build is not None:
        build()


def log_model(
    model: Pipeline, input_example: pd.DataFrame, reference_sample: pd.DataFrame, predict_fn: str = "predict_proba"
) -> str:
    """Log the model (its `predict_fn` as the pyfunc output: a use case's `pyfunc_predict_fn`) and its drift
    reference into the active run."""
    import mlflow
    from mlflow.models import infer_signature

    scores = getattr(model, predict_fn)(input_example)
    signature = infer_signature(input_example, scores)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        input_example=input_example.head(5),
        pip_requirements=pip_requirements(),
        pyfunc_predict_fn=predict_fn,
        serialization_format="cloudpickle",
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / REFERENCE_SAMPLE_FILE
        reference_sample.to_parquet(path, index=False)
        mlflow.log_artifact(str(path), artifact_path=REFERENCE_ARTIFACT_DIR)
    logger.info("logged model %s", info.model_uri)
    return str(info.model_uri)


def log_calibration_sample(labels: np.ndarray, scores: np.ndarray) -> None:
    """The holdout's scores and labels, as an artifact of the active run: estimated quality calibrates the served
    scores on them (monitoring/calibration.py), as labels of served answers take days to mature."""
    import mlflow

    folder_name, file_name = CALIBRATION_SAMPLE_PATH.rsplit("/", 1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / file_name
        pd.DataFrame({"score": np.asarray(scores, np.float64), "label": np.asarray(labels, np.float64)}).to_parquet(
            path, index=False
        )
        mlflow.log_artifact(str(path), artifact_path=folder_name)


def log_onnx(model_bytes: bytes) -> None:
    """The model's ONNX export, as an artifact of the active run (`ONNX_ARTIFACT_PATH`)."""
    import mlflow

    folder_name, file_name = ONNX_ARTIFACT_PATH.rsplit("/", 1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / file_name
        path.write_bytes(model_bytes)
        mlflow.log_artifact(str(path), artifact_path=folder_name)


def registered_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias`, None when there is no such model or alias; `RegistryUnreachableError`,
    within a few seconds, when the registry does not answer (MLflow's own retries would take minutes)."""
    from mlflow.exceptions import MlflowException

    check_reachable(client.tracking_uri)
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
            return None
        # MLflow's auth app denies a lookup on a model that does not exist yet (it cannot resolve a permission
        # for it); a denial on one that exists is a real permission problem and is raised.
        if error.error_code == "PERMISSION_DENIED" and not client.search_registered_models(f"name = '{name}'"):
            return None
        raise


def current_champion(client: MlflowClient, name: str) -> ModelVersion | None:
    """The champion: the one lookup every reader uses (the monitor, the model servers, the pipeline, the demo)."""
    return registered_alias(client, name, Alias.CHAMPION)


def register(
    client: MlflowClient, model_uri: str, name: str, run_id: str, tags: dict[str, Any], description: str
) -> ModelVersion:
    """Create a model version with its lineage tags (the registered model, the first time, with `description`)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(
            name, description=f"{description} Trained and promoted by the driftloop pipeline."
        )
    with fluent_tracking(client.tracking_uri):  # registration has no client form that links the logged model
        model_version = mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in tags.items()})
    client.set_model_version_tag(name, model_version.version, VersionTag.MLFLOW_RUN_ID, run_id)
    logger.info("registered %s version %s", name, model_version.version)
    return model_version


def promote(client: MlflowClient, name: str, version: str, alias: str = Alias.CHAMPION) -> None:
    client.set_registered_model_alias(name, alias, version)
    logger.info("%s@%s -> version %s", name, alias, version)
