"""The event store under real faults, nothing mocked: unreadable parts and torn log lines stop no reader (the
refresh, the training window, the drift check's log read, label landing over HTTP, `data status`) and are
listed with their reasons; a landing SIGKILLed at any step is completed by its retry and the refresh recomputes
the hours it touched; the label route answers 503 with Retry-After while the writer lock stays busy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest

from monitoring.state import MonitorStore
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.data.contract import validate_raw_data
from pipelines.data.crash_points import CRASH_AT_VARIABLE
from pipelines.data.event_store import EventStore, event_store_for
from pipelines.data.landing import land_events, land_labels
from pipelines.data.landing_records import LEGACY_LOG
from pipelines.data.prediction_log_format import partition_name, read_prediction_log
from pipelines.data.schema import EVENT_ID, EVENT_TIMESTAMP, LABEL_TIMESTAMP
from pipelines.data.storage import Folder, unique_part_name
from pipelines.features.refresh import hour_floor, refresh_features
from pipelines.training.steps import read_window
from tests.conftest import free_port
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate
from use_cases.fraud.schema import IS_FRAUD

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)
HOUR = NOW.replace(minute=0)
DRIFTLOOP = str(Path(sys.executable).with_name("driftloop"))


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate(FraudConfig(end=HOUR, seed=9, days=6, size=50, merchants=10))


def _settings(state: Path, **overrides: object) -> Settings:
    given = {"writer_lock_timeout_s": 0.5, "label_event_wait_s": 0, **overrides}
    return Settings(state_dir=state, _env_file=None, **given)  # type: ignore[call-arg,arg-type]


@pytest.fixture
def settings(tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]) -> Settings:
    """A store with a landed history (the last 40 transactions held back), its labels, and a first refresh."""
    from driftloop.features.apply import apply_feature_repo

    settings = _settings(tmp_path / "state")
    apply_feature_repo(settings)
    events, labels = world
    store = event_store_for(settings)
    land_events(store, events.iloc[:-40], "history", pd.Timestamp(NOW))
    land_labels(store, labels[labels[EVENT_ID].isin(events[EVENT_ID].iloc[:-40])], "history labels", pd.Timestamp(NOW))
    assert refresh_features(settings, now=NOW).watermark == HOUR.isoformat()
    return settings


def _serve(settings: Settings, events: pd.DataFrame, logged_at: datetime) -> None:
    """Answered transactions as the prediction log publishes them."""
    rows = events.assign(logged_at=pd.Timestamp(logged_at), role="served", model_version="1", prediction=0.2)
    folder = Folder.at(Layout.from_settings(settings).prediction_log.url)
    folder.write_parquet(rows, f"{partition_name(pd.Timestamp(logged_at))}/{unique_part_name()}")


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    return {**env, "DRIFTLOOP_STATE_DIR": str(settings.state_dir), **extra}


@contextmanager
def label_server(settings: Settings, publish_answers: Callable[[], None] | None = None) -> Iterator[str]:
    """The label route as the model servers mount it, served over real HTTP on loopback."""
    import uvicorn
    from fastapi import FastAPI

    from serving.feedback import install_label_route

    app = FastAPI()
    install_label_route(app, settings, publish_answers)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1/labels"
    finally:
        server.should_exit = True
        thread.join(10)


def _label_body(ids: pd.Series, verdict: int) -> dict[str, object]:
    return {"labels": [{"event_id": str(event_id), "is_fraud": verdict} for event_id in ids]}


def test_unreadable_parts_and_torn_lines_stop_no_reader_and_are_listed_with_their_reasons(
    settings: Settings, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    events, _ = world
    store = event_store_for(settings)
    held_back = events.iloc[-40:]
    _serve(settings, held_back.iloc[:20], NOW - timedelta(minutes=20))
    _serve(settings, held_back.iloc[20:], NOW - timedelta(minutes=10))

    # The faults: garbage over a landed day, a label part cut in half, garbage in the prediction log, a torn
    # line in the landings log of an older store and in the monitor's decisions log.
    day = events[EVENT_TIMESTAMP].iloc[-100]
    (store.landed_dir.local_path / f"date={day:%Y-%m-%d}" / "part-0-garbage.parquet").write_bytes(os.urandom(100))
    whole = next(store.labels_dir.local_path.glob("*/part-*.parquet")).read_bytes()
    (store.labels_dir.local_path / "part-0-torn.parquet").write_bytes(whole[: len(whole) // 2])
    served = Path(Layout.from_settings(settings).prediction_log.url) / partition_name(pd.Timestamp(NOW))
    (served / "part-0-garbage.parquet").write_bytes(b"PAR1" + os.urandom(60))
    legacy = {"kind": "events", "source": "older store", "landed_at": (NOW - timedelta(days=1)).isoformat(),
              "rows": 1, "oldest_event": (HOUR - timedelta(hours=5)).isoformat(), "oldest_label": None}  # fmt: skip
    store.root.write_text(LEGACY_LOG, json.dumps(legacy) + "\n" + '{"kind": "labels", "sour')
    monitor = MonitorStore(Layout.from_settings(settings).monitor)
    monitor.record({"action": "no_trigger", "reason": "before the fault"})
    with monitor.decisions_path.open("a") as log:
        log.write('{"action": "trig')

    # The feature refresh: recomputes from the legacy landing's hour, over all the good data.
    outcome = refresh_features(settings, now=NOW + timedelta(minutes=5))
    assert outcome.watermark == HOUR.isoformat() and outcome.start == (HOUR - timedelta(hours=5)).isoformat()
    assert outcome.events_read > 0 and outcome.rows_written["customer_stats"] > 0

    # The training window's read and its data contract.
    window_events, window_labels, _ = read_window(settings, pd.Timestamp(HOUR - timedelta(days=5)), pd.Timestamp(NOW))
    assert set(held_back[EVENT_ID]) <= set(window_events[EVENT_ID]) and len(window_labels) > 0
    report = validate_raw_data(window_events, window_labels, FRAUD, as_of=NOW, max_event_age=timedelta(hours=72))
    assert report.passed, report.summary()

    # The drift check's read of the log, and the monitor's decisions.
    log = read_prediction_log(
        Layout.from_settings(settings).prediction_log.url, since=pd.Timestamp(NOW - timedelta(hours=1))
    )
    assert sorted(log[EVENT_ID]) == sorted(held_back[EVENT_ID])
    assert [d["reason"] for d in monitor.decisions()] == ["before the fault"]

    # Label landing over HTTP: known events land, an unknown one is answered at once.
    with label_server(settings) as url:
        landed = httpx.post(url, json=_label_body(held_back[EVENT_ID].head(5), 1), timeout=30)
        assert (landed.status_code, landed.json()) == (200, {"landed": 5, "already_present": 0}), landed.text
        started = time.monotonic()
        unknown = httpx.post(url, json=_label_body(pd.Series(["never-answered"]), 1), timeout=30)
        assert unknown.status_code == 404 and "never-answered" in unknown.text
        assert time.monotonic() - started < 1.0, "DRIFTLOOP_LABEL_EVENT_WAIT_S=0: no wait"

    # `data status` lists every bad file and line with its reason.
    status = subprocess.run([DRIFTLOOP, "data", "status", "--json"], env=_env(settings), capture_output=True,
                            text=True, check=False, timeout=120)  # fmt: skip
    assert status.returncode == 0, status.stderr
    listed = json.loads(status.stdout)["unreadable_files"]
    assert sorted(record["file"].split("/state/", 1)[1] for record in listed) == sorted(
        [
            f"events/{LEGACY_LOG}#line-2",
            "events/labels/part-0-torn.parquet",
            f"events/landed/date={day:%Y-%m-%d}/part-0-garbage.parquet",
            f"predictions/{partition_name(pd.Timestamp(NOW))}/part-0-garbage.parquet",
        ]
    )
    reasons = [record["reason"] for record in listed]
    assert sum("magic bytes" in reason for reason in reasons) == 3 and sum("not JSON" in r for r in reasons) == 1
    assert all(Path(record["moved_to"]).is_file() for record in listed if record["moved_to"])
    text = subprocess.run([DRIFTLOOP, "data", "status"], env=_env(settings), capture_output=True, text=True,
                          check=False, timeout=120).stdout  # fmt: skip
    assert "unreadable files: 4" in text and "part-0-torn.parquet: ArrowInvalid" in text

    # The metric the refresh's callers export (the scheduler serves it, the CronJob pushes it).
    from monitoring import metrics

    metrics.record_store_health(store.unreadable_counts(), {})
    counted = {kind: metrics.REGISTRY.get_sample_value("driftloop_unreadable_files", {"store": kind})
               for kind in ("events", "predictions")}  # fmt: skip
    assert counted == {"events": 3, "predictions": 1}


@pytest.mark.parametrize(
    ("kind", "point", "retry_says"),
    [
        ("labels", "publish.before_rename", "3 landed, 0 already present"),
        ("labels", "labels.published", "0 landed, 3 already present"),
        ("events", "events.between_days", "landed, 1 already present"),
    ],
)
def test_a_landing_killed_at_any_step_is_completed_by_its_retry_and_its_hours_recomputed(
    settings: Settings, world: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path, kind: str, point: str,
    retry_says: str,
) -> None:  # fmt: skip
    events, labels = world
    store = event_store_for(settings)
    if kind == "labels":  # chargebacks for three transactions of five hours ago, known from two hours ago
        old = events[events[EVENT_TIMESTAMP] < pd.Timestamp(HOUR - timedelta(hours=5))].iloc[-3:]
        batch = pd.DataFrame({EVENT_ID: pd.array(old[EVENT_ID], dtype="string"), IS_FRAUD: 1,
                              LABEL_TIMESTAMP: pd.Timestamp(HOUR - timedelta(hours=2))})  # fmt: skip
        touched = hour_floor(old[EVENT_TIMESTAMP].min())
    else:  # a backfill of two past days, whose first day lands before the kill
        batch = events.iloc[-2:].assign(event_id=["backfill-1", "backfill-2"], event_timestamp=[
            pd.Timestamp(HOUR - timedelta(days=2)), pd.Timestamp(HOUR - timedelta(days=1))])  # fmt: skip
        touched = HOUR - timedelta(days=2)
    path = tmp_path / f"{kind}.parquet"
    batch.to_parquet(path, index=False)
    before = (len(store.label_records()), len(store.landed_events()))

    ingest = [DRIFTLOOP, "data", "ingest", kind, str(path)]
    killed = subprocess.run(ingest, env=_env(settings, **{CRASH_AT_VARIABLE: point}), capture_output=True,
                            text=True, check=False, timeout=120)  # fmt: skip
    assert killed.returncode == -9, killed.stdout + killed.stderr
    after_kill = (len(store.label_records()), len(store.landed_events()))
    if point == "publish.before_rename":
        assert after_kill == before, "killed before the rename: nothing is visible"
        assert list(store.labels_dir.local_path.rglob(".part-*.tmp")), "only a hidden temporary file is left"
    retry = subprocess.run(ingest, env=_env(settings), capture_output=True, text=True, check=False, timeout=120)
    assert retry.returncode == 0 and retry_says in retry.stdout, retry.stdout + retry.stderr
    assert (len(store.label_records()), len(store.landed_events())) == (
        (before[0] + 3, before[1]) if kind == "labels" else (before[0], before[1] + 2)
    ), "exactly what was missing landed"

    outcome = refresh_features(settings, now=NOW + timedelta(minutes=10))
    assert outcome.start == touched.isoformat(), "the refresh recomputes from the oldest hour the landing touched"
    again = refresh_features(settings, now=NOW + timedelta(minutes=20))
    assert again.start == HOUR.isoformat(), "and only once"


def test_the_label_route_answers_503_with_retry_after_while_the_writer_lock_stays_busy(
    settings: Settings, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    events, _ = world
    store: EventStore = event_store_for(settings)
    body = _label_body(events[EVENT_ID].iloc[-45:-41], 1)
    with label_server(settings) as url:
        with store.locked():  # a long landing holds the store
            busy = httpx.post(url, json=body, timeout=30)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1", busy.text
        assert "writer lock stayed busy" in busy.json()["error"] and "nothing was stored" in busy.text
        after = httpx.post(url, json=body, timeout=30)
        assert (after.status_code, after.json()["landed"]) == (200, 4), after.text


def test_a_label_for_an_answer_not_yet_published_lands_as_soon_as_it_is(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """Waiting for it holds no worker: the route sleeps on the event loop and looks again."""
    events, _ = world
    settings = _settings(tmp_path / "state", label_event_wait_s=5.0)
    answered = events.iloc[-3:]
    publisher = threading.Timer(0.6, _serve, (settings, answered, NOW))
    with label_server(settings) as url:
        publisher.start()
        started = time.monotonic()
        response = httpx.post(url, json=_label_body(answered[EVENT_ID], 0), timeout=30)
        waited = time.monotonic() - started
    publisher.join()
    assert (response.status_code, response.json()) == (200, {"landed": 3, "already_present": 0}), response.text
    assert 0.5 <= waited < 2.5, waited


def test_a_label_for_an_answer_still_in_the_servers_open_log_segment_lands_without_waiting_for_the_flush(
    tmp_path: Path, world: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The model server that answered holds the answer in its prediction log's open segment until the next flush
    (here ten minutes away, longer than the route waits): the route has the server publish it at once, in the
    route's own thread (the store knows the answers when the call returns, nothing left to a background thread)."""
    from pipelines.data.landing import unknown_events
    from serving.prediction_log import PredictionLog

    events, _ = world
    settings = _settings(tmp_path / "state", label_event_wait_s=5.0)
    answered, earlier = events.iloc[-3:], events.iloc[-5:-3]
    log = PredictionLog(Layout.from_settings(settings).prediction_log.url, flush_s=600).start()
    try:
        served = {"role": "served", "model_version": "1", "prediction": 0.2}
        log.append(earlier.assign(logged_at=pd.Timestamp(NOW), **served))
        store = event_store_for(settings)
        assert len(unknown_events(store, earlier[EVENT_ID])) == 2
        log.publish_now()
        assert unknown_events(store, earlier[EVENT_ID]).empty
        log.append(answered.assign(logged_at=pd.Timestamp(NOW), **served))
        with label_server(settings) as url:  # a server that cannot publish answers waits, then refuses
            refused = httpx.post(url, json=_label_body(answered[EVENT_ID], 0), timeout=30)
        with label_server(settings, log.publish_now) as url:
            response = httpx.post(url, json=_label_body(answered[EVENT_ID], 0), timeout=30)
    finally:
        log.close()
    assert refused.status_code == 404 and "unknown event_id" in refused.text, refused.text
    assert (response.status_code, response.json()) == (200, {"landed": 3, "already_present": 0}), response.text
