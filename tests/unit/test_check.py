"""The drift check's steps against a real MLflow registry in SQLite (no server), a real prediction log and a
real Evidently workspace; the runner is a recording fake (the check only submits and asks `is_active`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftloop.cli import app
from monitoring import metrics
from monitoring.check import monitor_store, pause_switch, run_check
from monitoring.policy import NO_TRIGGER, PAUSED, TRIGGER
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings, get_settings
from pipelines.core.training_request import TrainingOutcome, TrainingRequest
from pipelines.data.prediction_log_format import SERVED, PendingRows
from pipelines.registry.model_moves import set_challenger
from pipelines.registry.names import VersionTag
from pipelines.registry.tracking import tracking_client
from pipelines.registry.users import MlflowUser, mlflow_password
from pipelines.training.train import train_model
from serving.prediction_log import PredictionLog
from tests.unit.synthetic import model_input_frame
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.model import TrainParams, fraud_scores
from use_cases.fraud.schema import AMOUNT, CHANNEL, FEATURE_VIEW_COLUMNS, MODEL_INPUT_COLUMNS

MODEL = "checked"
NOW = datetime(2026, 11, 26, 12, 30, tzinfo=UTC)


@dataclass
class RecordingRunner:
    """Submits nothing anywhere: records each request and answers `is_active` from a set the test controls."""

    submitted: list[TrainingRequest] = field(default_factory=list)
    active: set[str] = field(default_factory=set)

    def submit(self, request: TrainingRequest) -> str:
        self.submitted.append(request)
        handle = f"fake:{len(self.submitted)}"
        self.active.add(handle)
        return handle

    def is_active(self, handle: str) -> bool:
        return handle in self.active

    def run_training(self, request: TrainingRequest) -> TrainingOutcome:
        raise AssertionError("the check never runs training in the foreground")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    """A champion with its drift reference, the way the pipeline registers one."""
    from pipelines.registry.models import log_model, promote, register
    from pipelines.registry.tracking import in_run, tracking_client

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = tracking_client(uri)
    experiment = client.create_experiment("check", artifact_location=str(folder / "artifacts"))
    training = model_input_frame(1500, seed=1)
    model = train_model(training, FRAUD, TrainParams(max_iter=20), seed=1)
    reference = training[list(MODEL_INPUT_COLUMNS)].head(800)
    reference = reference.assign(prediction=fraud_scores(model, reference))
    run_id = client.create_run(experiment).info.run_id
    with in_run(uri, run_id):
        model_uri = log_model(model, reference[list(MODEL_INPUT_COLUMNS)].head(5), reference)
    reference_uri = f"runs:/{run_id}/reference/reference_sample.parquet"
    version = register(client, model_uri, MODEL, run_id, {VersionTag.REFERENCE_SAMPLE: reference_uri}, "test")
    promote(client, MODEL, version.version)
    return uri, model


@pytest.fixture
def settings(tmp_path: Path, registry: tuple[str, object]) -> Iterator[Settings]:
    uri, _ = registry
    yield Settings(
        state_dir=tmp_path, mlflow_tracking_uri=uri, model_name=MODEL, drift_min_rows=150,
        drift_share_threshold=0.5, retrain_cooldown_minutes=30, drift_window_minutes=60,
    )  # fmt: skip


def _serve(settings: Settings, model: object, frame: pd.DataFrame, minutes_ago: float = 5) -> None:
    """Answers logged the way the predictor logs them (arrays in, frames built by the log's writer)."""
    inputs = {column: frame[column].to_numpy() for column in MODEL_INPUT_COLUMNS}
    scores = fraud_scores(model, frame[list(MODEL_INPUT_COLUMNS)])
    logged_at = (NOW - timedelta(minutes=minutes_ago)).timestamp()
    log = PredictionLog(Layout.from_settings(settings).prediction_log.url, flush_s=60).start()
    keys = FRAUD.entity_keys
    log.append(PendingRows(inputs, None, np.asarray(scores), "1", "champion", SERVED, "r", logged_at, keys))
    log.close()


def _drifted(rows: int, seed: int) -> pd.DataFrame:
    frame = model_input_frame(rows, seed=seed)
    frame[AMOUNT] = frame[AMOUNT] * 6
    for column in FEATURE_VIEW_COLUMNS:
        frame[column] = frame[column] * 4 + 10
    frame[CHANNEL] = "contactless"
    return frame


def test_without_a_champion_the_check_records_it_and_submits_nothing(settings: Settings) -> None:
    runner = RecordingRunner()
    outcome = run_check(settings.model_copy(update={"model_name": "never-registered"}), runner, now=NOW)
    assert outcome.action == NO_TRIGGER and "no champion yet" in outcome.reason
    assert runner.submitted == []
    assert monitor_store(settings).decisions(1)[0]["reason"] == outcome.reason


def test_too_few_answers_are_not_judged(settings: Settings, registry: tuple[str, object]) -> None:
    _serve(settings, registry[1], _drifted(40, seed=3))
    runner = RecordingRunner()
    outcome = run_check(settings, runner, now=NOW)
    assert (outcome.rows, outcome.drift_share, outcome.action) == (40, None, NO_TRIGGER)
    assert "too few rows" in outcome.reason and runner.submitted == []


def test_a_drifted_window_triggers_one_run_and_deciding_it_again_changes_nothing(
    settings: Settings, registry: tuple[str, object]
) -> None:
    _serve(settings, registry[1], _drifted(400, seed=4))
    runner = RecordingRunner()
    outcome = run_check(settings, runner, now=NOW)
    assert outcome.action == TRIGGER and outcome.drift_share is not None and outcome.drift_share >= 0.5
    assert [request.trigger for request in runner.submitted] == [f"drift:{outcome.window_key}"]
    assert runner.submitted[0].seed == settings.seed and runner.submitted[0].window_end == ""
    assert monitor_store(settings).load().run_in_flight == outcome.retraining_run == "fake:1"

    again = run_check(settings, runner, now=NOW)
    assert again.action == NO_TRIGGER and "already decided" in again.reason
    assert len(runner.submitted) == 1


def test_a_check_over_the_same_answers_reuses_the_last_report_and_new_answers_get_a_new_one(
    settings: Settings, registry: tuple[str, object]
) -> None:
    """Labels coming back change no answer: the next check's window holds the same answers, and computing and saving
    the same Evidently report again (a second a check, 1.25 MB a snapshot) would add nothing. New traffic does."""
    from monitoring.workspace import project_name, snapshot_count

    workspace = Layout.from_settings(settings).evidently_workspace
    _serve(settings, registry[1], _drifted(300, seed=11))
    runner = RecordingRunner()
    first = run_check(settings, runner, now=NOW)
    drift_snapshots = snapshot_count(workspace, project_name(settings))
    again = run_check(settings, runner, now=NOW + timedelta(seconds=20))
    assert again.snapshot_id == first.snapshot_id is not None
    assert (again.rows, again.drift_share, again.drifted_columns) == (
        first.rows,
        first.drift_share,
        first.drifted_columns,
    )
    assert snapshot_count(workspace, project_name(settings)) == drift_snapshots  # no second copy of the report

    _serve(settings, registry[1], _drifted(50, seed=12), minutes_ago=4)
    newer = run_check(settings, runner, now=NOW + timedelta(seconds=40))
    assert newer.rows == first.rows + 50 and newer.snapshot_id not in (None, first.snapshot_id)


def test_a_finished_run_is_cleared_and_the_cooldown_still_holds(
    settings: Settings, registry: tuple[str, object]
) -> None:
    """A trigger ten minutes ago whose run has since finished: the check clears the run, and the drifted window
    it sees now is held back by the cooldown, not by a run in flight."""
    from monitoring.state import MonitorState

    store = monitor_store(settings)
    store.save(MonitorState(last_trigger_at=NOW.isoformat(), run_in_flight="fake:earlier"))
    _serve(settings, registry[1], _drifted(400, seed=6), minutes_ago=-5)
    runner = RecordingRunner()  # knows no active run: the earlier one finished
    later = run_check(settings, runner, now=NOW + timedelta(minutes=10))
    assert store.load().run_in_flight is None
    assert later.drift_share is not None and later.drift_share >= 0.5
    assert later.action == NO_TRIGGER and "cooling down" in later.reason
    assert runner.submitted == []


def test_an_unreadable_log_part_and_a_torn_decision_line_do_not_stop_the_check(
    settings: Settings, registry: tuple[str, object]
) -> None:
    """A part of the window's log that cannot be parsed is set aside with its reason and the check judges the
    rest; a torn line of the decisions log is skipped and the next decision is whole."""
    import os

    from pipelines.data.event_store import event_store_for
    from pipelines.data.prediction_log_format import partition_name

    _serve(settings, registry[1], _drifted(40, seed=8))
    log_root = Path(Layout.from_settings(settings).prediction_log.url)
    hour = log_root / partition_name(pd.Timestamp(NOW - timedelta(minutes=5)))
    (hour / "part-0-garbage.parquet").write_bytes(os.urandom(64))
    store = monitor_store(settings)
    store.record({"action": NO_TRIGGER, "reason": "earlier"})
    with store.decisions_path.open("a") as log:
        log.write('{"action": "trig')
    outcome = run_check(settings, RecordingRunner(), now=NOW)
    assert outcome.rows == 40 and "too few rows" in outcome.reason
    assert [d["reason"] for d in store.decisions()] == ["earlier", outcome.reason]
    [moved] = event_store_for(settings).unreadable()
    assert moved.file.endswith("part-0-garbage.parquet") and "magic bytes" in moved.reason


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes: two calls differ when anything was written, added or removed."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_a_paused_loop_holds_a_drifted_window_and_resume_acts_on_the_next_window(
    settings: Settings, registry: tuple[str, object]
) -> None:
    """Acceptance of `driftloop loop pause`: a drifted window is measured and its decision recorded as held,
    with the pause's who, when and why, and no run is submitted; after the resume, the next check triggers."""
    _serve(settings, registry[1], _drifted(400, seed=9))
    switch, store, runner = pause_switch(settings), monitor_store(settings), RecordingRunner()
    pause, began = switch.pause("ops@laptop", "labels are late", now=NOW - timedelta(minutes=2))
    assert began and switch.current() == pause

    held = run_check(settings, runner, now=NOW)
    assert held.drift_share is not None and held.drift_share >= 0.5 and held.snapshot_id is not None
    assert (held.action, held.held_action, held.retraining_run) == (PAUSED, TRIGGER, None)
    assert held.pause == {
        "paused_at": (NOW - timedelta(minutes=2)).isoformat(),
        "by": "ops@laptop",
        "reason": "labels are late",
    }
    assert held.reason.startswith("held by the pause (paused by ops@laptop at 2026-11-26T12:28:00Z: labels are late)")
    assert "would have triggered: drift share" in held.reason
    assert runner.submitted == []
    assert store.decisions(1)[0] == held.as_dict()
    state = store.load()
    assert (state.run_in_flight, state.last_trigger_at) == (None, None)
    assert held.window_key not in state.handled_windows  # held, not decided: the window may still trigger

    assert run_check(settings, runner, now=NOW + timedelta(minutes=1)).action == PAUSED  # holds every check
    assert runner.submitted == []

    assert switch.resume("ops@laptop", "labels caught up", now=NOW + timedelta(minutes=2)) == pause
    resumed = run_check(settings, runner, now=NOW + timedelta(minutes=3))
    assert resumed.action == TRIGGER and resumed.pause is None and resumed.held_action is None
    assert [request.trigger for request in runner.submitted] == [f"drift:{resumed.window_key}"]
    assert store.load().run_in_flight == resumed.retraining_run == "fake:1"
    assert [d["action"] for d in store.decisions()] == [PAUSED, PAUSED, TRIGGER]
    assert [(e["event"], e["reason"]) for e in switch.history()] == [
        ("paused", "labels are late"),
        ("resumed", "labels caught up"),
    ]


def test_a_dry_run_makes_the_checks_decision_and_changes_no_file(
    settings: Settings, registry: tuple[str, object]
) -> None:
    """`monitor run --dry-run`: the same decision a check makes, with the state folder (the monitor's state,
    decisions, cached references, the Evidently workspace) byte for byte as it was, no gauge moved and no run."""
    mlflow_password(settings, MlflowUser.MONITOR)  # the local logins exist, as after `local up`
    _serve(settings, registry[1], _drifted(400, seed=10))
    runner = RecordingRunner()
    last_run = metrics.REGISTRY.get_sample_value("driftloop_drift_last_run_timestamp_seconds")
    before = _files(settings.state_dir)
    dry = run_check(settings, runner, now=NOW, dry_run=True)
    assert _files(settings.state_dir) == before
    assert not Layout.from_settings(settings).monitor.exists()  # not even the reference cache
    assert metrics.REGISTRY.get_sample_value("driftloop_drift_last_run_timestamp_seconds") == last_run
    assert (dry.action, dry.dry_run, dry.retraining_run, dry.snapshot_id) == (TRIGGER, True, None, None)
    assert runner.submitted == []

    real = run_check(settings, runner, now=NOW)
    assert (real.action, real.window_key, real.drift_share, real.dry_run) == (
        TRIGGER,
        dry.window_key,
        dry.drift_share,
        False,
    )
    assert len(runner.submitted) == 1

    pause_switch(settings).pause("ops@laptop", "", now=NOW)
    runner.active.clear()  # the run finished; past the cooldown the window would trigger again, but for the pause
    before = _files(settings.state_dir)
    later = run_check(settings, runner, now=NOW + timedelta(minutes=31), dry_run=True)
    assert _files(settings.state_dir) == before  # not even the finished run cleared from the state
    assert (later.action, later.held_action, later.pause and later.pause["by"]) == (PAUSED, TRIGGER, "ops@laptop")
    assert len(runner.submitted) == 1


@pytest.fixture
def canary(registry: tuple[str, object]) -> Iterator[str]:
    """A second version of the champion's model serving as the canary challenger at a quarter of requests;
    cleared afterwards (the registry is the module's)."""
    from pipelines.registry.models import register

    client = tracking_client(registry[0])
    first = client.get_model_version(MODEL, "1")
    tags = {VersionTag.REFERENCE_SAMPLE: first.tags[VersionTag.REFERENCE_SAMPLE]}
    second = register(client, first.source, MODEL, str(first.run_id), tags, "test")
    set_challenger(client, MODEL, str(second.version), 0.25, "ops", "canary for the test")
    try:
        yield str(second.version)
    finally:
        set_challenger(client, MODEL, None, 0.0, "ops", "the test is over")


@pytest.fixture
def cli_settings(settings: Settings, clean_env: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The CLI reads the check's settings: its state folder, registry and model."""
    mlflow_password(settings, MlflowUser.MONITOR)  # the local logins exist, as after `local up`
    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(settings.state_dir))
    clean_env.setenv("DRIFTLOOP_MLFLOW_TRACKING_URI", settings.tracking_uri)
    clean_env.setenv("DRIFTLOOP_MODEL_NAME", MODEL)
    get_settings.cache_clear()
    try:
        yield settings
    finally:
        get_settings.cache_clear()


def _monitor_status(*flags: str) -> str:
    result = CliRunner().invoke(app, ["monitor", "status", *flags])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_pause_gauge_and_the_canarys_last_look_reach_prometheus_and_monitor_status(
    cli_settings: Settings, registry: tuple[str, object], canary: str
) -> None:
    """`driftloop_loop_paused` is 1 after a check while paused and 0 after one past the resume; `monitor status`
    shows the challenger serving and the look the check recorded, and "no canary" once it is cleared."""
    settings, runner, switch = cli_settings, RecordingRunner(), pause_switch(cli_settings)
    before = {"running": True, "challenger": canary, "share": 0.25, "registry": None, "last_look": None}
    assert json.loads(_monitor_status("--json"))["canary"] == before
    switch.pause("ops@laptop", "labels are late", now=NOW - timedelta(minutes=2))
    held = run_check(settings, runner, now=NOW)
    assert metrics.REGISTRY.get_sample_value("driftloop_loop_paused") == 1.0
    assert held.canary is not None and held.pause is not None

    shown = json.loads(_monitor_status("--json"))["canary"]
    assert (shown["running"], shown["challenger"], shown["share"]) == (True, canary, 0.25)
    assert shown["last_look"] == {
        "checked_at": NOW.isoformat(),
        "champion": "1",
        "challenger": canary,
        "share": 0.25,
        "decision": "continue",
        "reason": held.canary["verdict"]["reason"],
        "p_value": 1.0,
        "statistic": 0.0,
        "rows": {"champion": 0, "challenger": 0},
        "moved": "",
        "move_error": "",
    }
    assert "waiting for rows" in shown["last_look"]["reason"]
    text = _monitor_status()
    assert f"canary: challenger v{canary} answers 25% of requests" in text
    assert f"last look {NOW.isoformat()[:19]}: v{canary} vs champion v1: continue, p 1 (always valid)" in text

    switch.resume("ops@laptop", "labels caught up", now=NOW + timedelta(minutes=1))
    run_check(settings, runner, now=NOW + timedelta(minutes=2))
    assert metrics.REGISTRY.get_sample_value("driftloop_loop_paused") == 0.0

    set_challenger(tracking_client(registry[0]), MODEL, None, 0.0, "ops", "seen enough")
    shown = json.loads(_monitor_status("--json"))["canary"]
    later = (NOW + timedelta(minutes=2)).isoformat()
    assert (shown["running"], shown["challenger"], shown["last_look"]["checked_at"]) == (False, None, later)
    assert "canary: no canary" in _monitor_status()


def test_a_window_starts_at_the_microsecond_given(cli_settings: Settings, registry: tuple[str, object]) -> None:
    """`monitor run --since` takes microseconds: the demo starts a phase's window at the moment its traffic goes
    out, and an answer half a second before it (the probe that saw v1 serve) is not the phase's."""
    _serve(cli_settings, registry[1], _drifted(30, seed=21), minutes_ago=5)
    _serve(cli_settings, registry[1], _drifted(40, seed=22), minutes_ago=5 - 0.5 / 60)
    start = NOW - timedelta(minutes=5) + timedelta(seconds=0.25)
    result = CliRunner().invoke(
        app, ["monitor", "run", "--since", f"{start:%Y-%m-%dT%H:%M:%S.%f}", "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.stdout)
    assert outcome["rows"] == 40 and outcome["window_start"] == start.isoformat(), outcome
