"""The demo story, step by step, with a timeline and a summary a test (or a person) can check.

generate data -> local up -> train and promote v1 -> serve -> normal traffic (check: no trigger) ->
new drifted data lands, features refresh -> drifted traffic (check: trigger) -> retraining through the
runner -> the gate promotes v2 -> the predictor swaps it in -> the endpoint answers with v2.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.settings import Settings

logger = logging.getLogger(__name__)

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoConfig:
    days: int = 30
    customers: int = 500
    merchants: int = 80
    drift_start_day: int = 12
    traffic_rows: int = 600
    timeout_s: float = 600.0


class Timeline:
    def __init__(self, say: Say) -> None:
        self.started = time.monotonic()
        self.say = say
        self.marks: dict[str, float] = {}

    def mark(self, name: str, message: str) -> None:
        self.marks[name] = round(time.monotonic() - self.started, 1)
        self.say(f"[{self.marks[name]:6.1f}s] {message}")


def _wait(what: str, condition: Callable[[], Any], timeout_s: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise DriftloopError(f"demo: timed out after {timeout_s:.0f}s waiting for {what}")


def _wait_for_log(settings: Settings, since: datetime, rows: int) -> None:
    """The prediction log is written off the request path; wait until the traffic's rows are on disk."""
    from pipelines.prediction_log_format import read_prediction_log

    def logged() -> bool:
        return len(read_prediction_log(settings.prediction_log_path, since=pd.Timestamp(since))) >= rows

    _wait(f"{rows} rows in the prediction log", logged, 30, interval=0.5)


def _reset_state(settings: Settings, say: Say) -> None:
    from driftloop.local.runtime import LocalPlatform

    LocalPlatform(settings).down(say)
    if settings.state_dir.exists():
        shutil.rmtree(settings.state_dir)


def run_demo(settings: Settings, config: DemoConfig, say: Say, reset: bool) -> dict[str, Any]:
    from driftloop.demo.traffic import send_transactions, served_version
    from driftloop.features.materialize import materialize_online
    from driftloop.local.runtime import LocalPlatform
    from driftloop.pipeline_runs.local_runner import LocalPipelineRunner
    from driftloop.pipeline_runs.request import TrainingRequest
    from monitoring.check import CheckOutcome, run_check
    from monitoring.workspace import snapshot_count
    from pipelines.data_generator import GeneratorConfig, generate, write_raw_data
    from pipelines.offline_store import build_offline_features

    if reset:
        _reset_state(settings, say)
    elif (settings.state_dir / "mlflow").exists():
        raise DriftloopError(f"{settings.state_dir} already holds a platform; run `driftloop demo --reset`")
    timeline = Timeline(say)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    base = GeneratorConfig(
        end=end, seed=settings.seed, days=config.days, customers=config.customers, merchants=config.merchants
    )
    events, labels = generate(base)
    write_raw_data(events, labels, settings.raw_data_dir, base)
    timeline.mark("data", f"generated {len(events)} transactions and {len(labels)} labels over {config.days} days")

    platform = LocalPlatform(settings)
    platform.up(lambda line: None)
    endpoints = {status.name: status.url for status in platform.status()}
    timeline.mark("up", "local platform up: " + ", ".join(f"{k} {v}" for k, v in endpoints.items()))

    runner = LocalPipelineRunner(settings)
    first = runner.run_training(TrainingRequest.from_settings(settings, trigger="demo:initial"))
    if first.registered_version is None:
        raise DriftloopError(f"demo: the first training run did not register a model ({first.error or first.reason})")
    timeline.mark("v1", f"trained and promoted v{first.registered_version} ({first.reason}); run {first.run_url}")

    url, model = endpoints["transformer"], settings.model_name
    probe = {"customer_id": int(events["customer_id"].iloc[-1]), "merchant_id": int(events["merchant_id"].iloc[-1]),
             "amount": 25.0, "channel": "online"}  # fmt: skip
    champion_before = _wait("v1 to serve", lambda: served_version(url, model, probe), 120)
    timeline.mark("v1_serving", f"endpoint {url} answers with v{champion_before}")

    def traffic_then_check(source: pd.DataFrame, seed: int, name: str) -> CheckOutcome:
        """Replay the last three days of `source` against the endpoint, then run one drift check on it."""
        since = datetime.now(UTC)
        recent = source[source["event_timestamp"] >= pd.Timestamp(end) - pd.Timedelta(days=3)]
        sent = send_transactions(url, model, recent.sample(min(config.traffic_rows, len(recent)), random_state=seed))
        _wait_for_log(settings, since, sent.rows)
        outcome = run_check(settings, runner, since=since)
        timeline.mark(f"{name}_check", f"{name} traffic ({sent.rows} rows): {outcome.action} ({outcome.reason})")
        return outcome

    before = traffic_then_check(events, seed=1, name="normal")

    drifted_config = GeneratorConfig(
        end=end, seed=settings.seed, days=config.days, customers=config.customers, merchants=config.merchants,
        drift_start_day=config.drift_start_day,
    )  # fmt: skip
    drifted_events, drifted_labels = generate(drifted_config)
    write_raw_data(drifted_events, drifted_labels, settings.raw_data_dir, drifted_config)
    start = drifted_events["event_timestamp"].min().floor("h").to_pydatetime()
    feature_end = end + timedelta(hours=1)
    build_offline_features(drifted_events, drifted_labels, settings.feast_path, start, feature_end, datetime.now(UTC))
    materialize_online(settings, feature_end)
    timeline.mark("drift_data", f"new data landed: drift from day {config.drift_start_day}; features refreshed")

    loop_started = time.monotonic()
    after = traffic_then_check(drifted_events, seed=2, name="drift")
    if after.retraining_run:
        handle = after.retraining_run
        _wait("the retraining run", lambda: not runner.is_active(handle), config.timeout_s, interval=2.0)
        timeline.mark("retrained", "retraining run finished")
    champion_after = _wait(
        "the new champion to serve",
        lambda: (v := served_version(url, model, probe)) != champion_before and v,
        120 if after.retraining_run else 1,
    ) if after.retraining_run else champion_before  # fmt: skip
    loop_seconds = round(time.monotonic() - loop_started, 1)
    timeline.mark("v2_serving", f"endpoint answers with v{champion_after}, {loop_seconds}s after drifted traffic began")

    summary = {
        "champion_before": champion_before,
        "champion_after": champion_after,
        "drift_share_before": before.drift_share,
        "drift_share_after": after.drift_share,
        "retrain_triggered": after.retraining_run is not None,
        "retrain_reason": after.reason,
        "retraining_run": after.retraining_run,
        "loop_seconds": loop_seconds,
        "normal_check": before.as_dict(),
        "drift_check": after.as_dict(),
        "evidently_snapshots": snapshot_count(settings.evidently_workspace_path, f"{settings.model_name} drift"),
        "timeline": timeline.marks,
        "endpoints": {
            **endpoints,
            "inference_v1": f"{url}/v1/models/{model}:predict",
            "inference_v2": f"{url}/v2/models/{model}/infer",
        },
    }
    out = settings.state_dir / "demo" / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    say(f"summary: {out}")
    return summary


def summary_path(settings: Settings) -> Path:
    return settings.state_dir / "demo" / "summary.json"
