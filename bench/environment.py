"""A benchmark platform: the local platform on free ports in its own state folder, with a champion.

The champion is trained in-process from generated data (the same training code the pipeline runs)
and registered directly, so setup takes seconds instead of a pipeline run.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd

from pipelines.core.layout import Layout

logger = logging.getLogger(__name__)

PORT_SETTINGS = ("mlflow_port", "evidently_port", "predictor_port", "transformer_port", "monitor_port", "stream_port")
# fraud_streaming: the serving chain looks its streamed views up too, and the stream worker runs beside it
# (bench/stream_freshness.py measures that worker). Every bench that builds model inputs reads their columns from
# this use case's declaration: fraud's own lack the streamed ones.
USE_CASE = "fraud_streaming"
MODEL = "fraud-velocity-detector"  # its registered model, the InferenceService's name (UseCase.model_name)
CHART_VALUES = Path(__file__).resolve().parents[1] / "helm" / "driftloop" / "values.yaml"


def chart_default_topology() -> str:
    """The serving topology the chart deploys by default (values.yaml `serving.topology`): the bench platform serves
    in it, so the platform's endpoint is the chart's default measured on this machine."""
    import yaml

    return str(yaml.safe_load(CHART_VALUES.read_text())["serving"]["topology"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchPlatform:
    state_dir: Path
    env: dict[str, str]
    model_dir: Path  # the champion's sklearn model folder, for the baselines
    onnx_path: Path  # the champion's ONNX export (what our predictor scores with), for the floor
    requests: pd.DataFrame  # transactions with their online features, for request bodies

    def url(self, setting: str) -> str:
        return f"http://127.0.0.1:{self.env['DRIFTLOOP_' + setting.upper()]}"


def wait_ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("ab")
    return subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _train_and_register(state_dir: Path, customers: int) -> tuple[Path, Path, pd.DataFrame]:
    import mlflow

    from driftloop.features.apply import apply_feature_repo
    from pipelines.core.settings import Settings
    from pipelines.features.offline_store import build_offline_features, streamed_tables
    from pipelines.features.store import materialize_online, open_feature_store
    from pipelines.features.training_set import build_training_set, labelled_events
    from pipelines.registry.models import log_model, log_onnx, promote, register
    from pipelines.registry.onnx_model import (
        ONNX_URI_TAG,
        export_model,
        onnx_lineage,
        open_session,
        parity_gap,
        runtime_versions,
    )
    from pipelines.registry.users import MlflowUser, act_as
    from pipelines.training.train import train_model
    from serving.online_features import OnlineFeatures
    from use_cases.fraud.generator import FraudConfig, generate
    from use_cases.fraud.model import TrainParams, fraud_scores
    from use_cases.fraud.streamed import USE_CASE as FRAUD

    settings = Settings()
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    events, labels = generate(FraudConfig(end=end, days=21, size=customers, merchants=50, seed=11))
    apply_feature_repo(settings)
    build_offline_features(
        events, labels, Layout.from_settings(settings).feast_repo, end - timedelta(days=21), end, end, use_case=FRAUD
    )
    materialize_online(settings, end)
    store = open_feature_store(settings)
    streamed = streamed_tables(Layout.from_settings(settings).feast_repo, FRAUD)
    training = build_training_set(store, labelled_events(events, labels, 7, FRAUD), FRAUD, streamed)
    model = train_model(training, FRAUD, TrainParams(), seed=11)
    act_as(settings, MlflowUser.PIPELINE)  # the baseline's model is registered as the pipeline would
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment("bench")
    onnx_bytes = export_model(model, FRAUD.model.onnx, FRAUD.model_input)
    parity = parity_gap(
        fraud_scores,
        model,
        open_session(onnx_bytes, threads=1),
        training.tail(2000),
        FRAUD.model.onnx,
        FRAUD.model_input,
    )
    with mlflow.start_run() as run:
        inputs = training[list(FRAUD.model_input.columns)]
        uri = log_model(model, inputs.head(20), inputs.head(200))
        log_onnx(onnx_bytes)
    client = mlflow.tracking.MlflowClient(settings.tracking_uri)
    tags = {"bench": "true", **onnx_lineage(run.info.run_id, parity, runtime_versions())}
    version = register(client, uri, settings.model_name, run.info.run_id, tags, FRAUD.description)
    promote(client, settings.model_name, version.version)
    # The baselines serve this very model version, downloaded from the registry.
    model_dir = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{settings.model_name}/{version.version}", dst_path=str(state_dir / "bench-model")
        )
    )
    onnx_path = Path(
        mlflow.artifacts.download_artifacts(
            client.get_model_version(settings.model_name, version.version).tags[ONNX_URI_TAG],
            dst_path=str(state_dir / "bench-onnx"),
        )
    )
    recent = events.tail(500).reset_index(drop=True)
    entity_ids = {key: recent[key].to_numpy() for key in FRAUD.entity_keys}
    looked_up = OnlineFeatures(store, FRAUD).lookup(entity_ids)
    return model_dir, onnx_path, recent.join(pd.DataFrame(looked_up.features))


@contextmanager
def bench_platform(root: Path, customers: int = 300) -> Iterator[BenchPlatform]:
    """Local platform up (all services, free ports, the chart's default serving topology), a champion registered
    and served at its inference endpoint; down afterwards."""
    import shutil

    state = root / "state"
    if state.exists():
        shutil.rmtree(state)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    env.update({f"DRIFTLOOP_{s.upper()}": str(free_port()) for s in PORT_SETTINGS})
    env.update(
        {
            "DRIFTLOOP_STATE_DIR": str(state),
            "DRIFTLOOP_MODEL_POLL_INTERVAL_S": "1",
            "DRIFTLOOP_LOG_LEVEL": "WARNING",
            "DRIFTLOOP_USE_CASE": USE_CASE,
            "DRIFTLOOP_SERVING_TOPOLOGY": chart_default_topology(),
        }
    )
    driftloop = str(Path(sys.executable).with_name("driftloop"))
    saved = dict(os.environ)
    try:
        subprocess.run([driftloop, "local", "up"], env=env, check=True, capture_output=True, timeout=300)
        os.environ.clear()
        os.environ.update(env)
        from pipelines.core.settings import get_settings

        get_settings.cache_clear()
        model_dir, onnx_path, requests = _train_and_register(state, customers)
        platform = BenchPlatform(state, env, model_dir, onnx_path, requests)
        wait_ready(platform.url("transformer_port") + f"/v2/models/{MODEL}/ready")
        yield platform
    finally:
        os.environ.clear()
        os.environ.update(saved)
        subprocess.run([driftloop, "local", "down"], env=env, capture_output=True, timeout=120, check=False)
