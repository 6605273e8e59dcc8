"""An unreachable registry is an error that names it, quickly; never "no champion yet"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import free_port
from use_cases.fraud import USE_CASE as FRAUD

DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


def test_monitor_run_fails_fast_naming_the_registry_and_records_the_failed_check(tmp_path: Path) -> None:
    port = free_port()  # nothing listens here: MLflow is down
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update({"DRIFTLOOP_STATE_DIR": str(tmp_path), "DRIFTLOOP_MLFLOW_PORT": str(port)})
    began = time.monotonic()
    result = subprocess.run([DRIFTLOOP, "monitor", "run"], env=env, capture_output=True, text=True, timeout=60)
    took = time.monotonic() - began
    assert result.returncode == 1, result.stderr
    assert took < 15, f"took {took:.1f}s"
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the model registry at http://127.0.0.1:") and str(port) in message
    assert "no champion" not in result.stderr + result.stdout
    status = subprocess.run(
        [DRIFTLOOP, "monitor", "status", "--json"], env=env, capture_output=True, text=True, check=True
    )
    decisions = json.loads(status.stdout)["decisions"]
    assert decisions[-1]["action"] == "failed" and str(port) in decisions[-1]["reason"]


def test_model_slots_keep_serving_what_they_have_when_the_registry_is_away() -> None:
    from mlflow.tracking import MlflowClient

    from pipelines.core.errors import RegistryUnreachableError
    from serving.model_slots import ModelSlots, ServingModel

    class Constant:
        flavour = "test"

        def scores(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
            return np.zeros(1)

    slots = ModelSlots(MlflowClient(f"http://127.0.0.1:{free_port()}"), "m", use_case=FRAUD)
    slots._models["champion"] = ServingModel("champion", "3", "r3", Constant())
    slots._models["challenger"] = ServingModel("challenger", "4", "r4", Constant())
    with pytest.raises(RegistryUnreachableError):
        slots.refresh()
    assert slots.champion is not None and slots.challenger is not None and slots.challenger.version == "4"
