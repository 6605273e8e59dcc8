"""ModelSlots against MLflow's own SQLite registry (no server): what serves after each move of an alias, and
that a version which fails to load never replaces the one in service."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipelines.training.train import train_model
from tests.unit.synthetic import model_input_frame
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import TrainParams
from use_cases.fraud.schema import MODEL_INPUT_COLUMNS

MODEL = "m"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, str], pd.DataFrame]]:
    """A registry with four versions of one model: two good ONNX exports, one whose export is corrupt and one
    without an export. Every call names the registry: MLflow's process-wide URI is never set."""
    import mlflow

    from pipelines.registry.models import log_model, log_onnx, register
    from pipelines.registry.onnx_model import export_model, onnx_lineage, runtime_versions
    from pipelines.registry.tracking import in_run, tracking_client

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    found = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    client = tracking_client(uri)
    experiment = client.create_experiment("slots", artifact_location=str(folder / "artifacts"))
    holdout = model_input_frame(200, seed=2)
    inputs = holdout[list(MODEL_INPUT_COLUMNS)]
    versions = {}
    for name, seed, onnx in (
        ("good", 1, "export"),
        ("other", 3, "export"),
        ("corrupt", 5, "corrupt"),
        ("plain", 7, ""),
    ):
        model = train_model(model_input_frame(1500, seed=seed), FRAUD, TrainParams(max_iter=20), seed=seed)
        run_id = client.create_run(experiment).info.run_id
        with in_run(uri, run_id):
            model_uri = log_model(model, inputs.head(5), inputs.head(20))
            if onnx:
                log_onnx(
                    b"not an onnx model"
                    if onnx == "corrupt"
                    else export_model(model, FRAUD.model.onnx, FRAUD.model_input)
                )
        lineage = onnx_lineage(run_id, 0.0, runtime_versions()) if onnx else {}
        versions[name] = str(register(client, model_uri, MODEL, run_id, lineage, "test").version)
    after = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    assert after == found, "logging and registering left MLflow's process-wide URI changed"
    yield client, versions, holdout


def _slots(client: Any) -> Any:
    from serving.model_slots import ModelSlots

    return ModelSlots(client, MODEL, use_case=FRAUD)


def test_a_moved_champion_is_loaded_and_published(registry: tuple[Any, dict[str, str], pd.DataFrame]) -> None:
    from pipelines.registry.models import promote

    client, versions, holdout = registry
    promote(client, MODEL, versions["good"])
    slots = _slots(client)
    assert slots.refresh() is True and slots.champion.version == versions["good"]
    assert slots.refresh() is False, "nothing moved: nothing is reloaded"
    promote(client, MODEL, versions["other"])
    before = slots.champion
    assert slots.refresh() is True and slots.champion.version == versions["other"]
    columns = {name: holdout[name].to_numpy() for name in MODEL_INPUT_COLUMNS}
    assert not np.allclose(before.scores(columns), slots.champion.scores(columns)), "a different model answers"


def test_a_version_that_fails_to_load_keeps_the_old_model(registry: tuple[Any, dict[str, str], pd.DataFrame]) -> None:
    from pipelines.registry.models import promote

    client, versions, _ = registry
    promote(client, MODEL, versions["good"])
    slots = _slots(client)
    slots.refresh()
    promote(client, MODEL, versions["corrupt"])
    with pytest.raises(Exception, match="(?i)protobuf|onnx|invalid|parse"):
        slots.refresh()
    assert slots.champion is not None and slots.champion.version == versions["good"]


def test_a_removed_challenger_stops_serving_a_removed_champion_never_does(
    registry: tuple[Any, dict[str, str], pd.DataFrame],
) -> None:
    from pipelines.registry.models import promote
    from pipelines.registry.names import Alias

    client, versions, _ = registry
    promote(client, MODEL, versions["good"])
    promote(client, MODEL, versions["other"], alias=Alias.CHALLENGER)
    slots = _slots(client)
    slots.refresh()
    assert (slots.champion.version, slots.challenger.version) == (versions["good"], versions["other"])
    client.delete_registered_model_alias(MODEL, Alias.CHALLENGER)
    client.delete_registered_model_alias(MODEL, Alias.CHAMPION)
    assert slots.refresh() is True
    assert slots.challenger is None
    assert slots.champion is not None and slots.champion.version == versions["good"]


def test_a_version_without_onnx_is_scored_by_its_sklearn_flavour_from_the_clients_own_registry(
    registry: tuple[Any, dict[str, str], pd.DataFrame],
) -> None:
    import mlflow

    from pipelines.registry.models import promote

    client, versions, holdout = registry
    found = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    promote(client, MODEL, versions["plain"])
    slots = _slots(client)
    assert slots.refresh() is True and slots.champion.version == versions["plain"]
    assert slots.champion.model.flavour == "sklearn"
    scores = slots.champion.scores({name: holdout[name].to_numpy() for name in MODEL_INPUT_COLUMNS})
    assert scores.shape == (len(holdout),) and ((scores >= 0) & (scores <= 1)).all()
    assert (mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None) == found, "loading set it"


def test_recorded_moves_decide_what_serves_and_a_rollback_undoes_one_promotion(
    registry: tuple[Any, dict[str, str], pd.DataFrame],
) -> None:
    from pipelines.registry.model_moves import (
        MoveRefusedError,
        recorded_moves,
        rollback_champion,
        set_challenger,
        set_champion,
        set_shadow,
    )
    from pipelines.registry.names import Alias

    client, versions, _ = registry
    good, other = versions["good"], versions["other"]
    set_champion(client, MODEL, good, "ops", "start from good")
    slots = _slots(client)
    slots.refresh()
    set_challenger(client, MODEL, other, 0.25, "ops", "canary other")
    set_shadow(client, MODEL, other, "ops", "shadow other")
    assert slots.refresh() is True
    assert (slots.challenger.version, slots.challenger_share, slots.shadow.version) == (other, 0.25, other)
    set_challenger(client, MODEL, None, 0.0, "ops", "canary done")
    set_shadow(client, MODEL, None, "ops", "shadow done")
    assert slots.refresh() is True and (slots.challenger, slots.challenger_share, slots.shadow) == (None, 0.0, None)

    set_champion(client, MODEL, other, "ops", "other is better")
    assert str(client.get_model_version_by_alias(MODEL, Alias.PREVIOUS_CHAMPION).version) == good
    assert slots.refresh() is True and slots.champion.version == other
    move = rollback_champion(client, MODEL, "ops", "other misbehaves")
    assert (move.from_version, move.to_version) == (other, good)
    assert slots.refresh() is True and slots.champion.version == good
    with pytest.raises(MoveRefusedError, match="no previous champion"):
        rollback_champion(client, MODEL, "ops", "again")
    latest = recorded_moves(client, MODEL, last=2)
    assert [(m.action, m.from_version, m.to_version, m.why) for m in latest] == [
        ("rollback", other, good, "other misbehaves"),
        ("promote", good, other, "other is better"),
    ]
