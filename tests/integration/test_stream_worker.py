"""The stream worker against a real Feast online store and a real stream: what it pushes equals the replay of the
same events, whatever order and how many times they arrive, and across SIGKILLs of the worker process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from pipelines.core.settings import Settings
from pipelines.core.use_case import load_use_case
from pipelines.streaming.parity import compare_online_to_replay, online_rows
from pipelines.streaming.publisher import StreamPublisher
from pipelines.streaming.records import StreamRoutes
from pipelines.streaming.sqlite_stream import SqliteStream
from pipelines.streaming.worker import GROUP
from tests.conftest import free_port
from use_cases.fraud.generator import FraudConfig, generate

pytestmark = pytest.mark.integration

FRAUD = load_use_case("fraud_streaming")
STREAMED = [view for view in FRAUD.views if view.streamed]


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A state folder whose Feast registry knows the fraud views (an empty online store)."""
    from driftloop.features.apply import apply_feature_repo

    state = tmp_path_factory.mktemp("stream") / "state"
    settings = Settings(state_dir=state, stream_partitions=4, use_case="fraud_streaming")
    apply_feature_repo(settings)
    yield settings


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    """Two days of a small world's transactions (card-testing bursts and all), ending now."""
    end = datetime.now(UTC).replace(microsecond=0)
    events, _ = generate(FraudConfig(seed=11, days=2, size=120, merchants=20, end=end))
    return events


def assert_online_equals_replay(settings: Settings, events: pd.DataFrame) -> None:
    from pipelines.features.store import open_feature_store

    store = open_feature_store(settings)
    for view in STREAMED:
        key = FRAUD.entity_of(view.entity).key
        keys = sorted(events[key].unique().tolist())
        online = online_rows(store, FRAUD, view, keys)
        assert len(online) == len(keys), f"{view.name}: {len(keys) - len(online)} entities have no online row"
        result = compare_online_to_replay(FRAUD, view, online, events)
        assert result.mismatched == 0, result.examples
        assert result.equal == len(keys) and result.pending == 0 and result.behind == 0, result


def test_the_worker_pushes_the_replay_whatever_the_order_and_redeliveries(
    registered: Settings, world: pd.DataFrame
) -> None:
    from pipelines.features.store import open_feature_store
    from pipelines.streaming.service import stream_worker

    settings = registered.model_copy(update={"stream_url": f"sqlite:///{registered.state_dir / 'in-process.db'}"})
    routes = StreamRoutes.of(FRAUD, settings.stream_partitions)
    publisher = StreamPublisher(lambda: SqliteStream(settings.state_dir / "in-process.db"), routes)
    rng = random.Random(3)
    chunks = [world.iloc[i : i + 97] for i in range(0, len(world), 97)]
    late = chunks.pop(rng.randrange(len(chunks) - 2))  # a landing that arrives after newer events
    for chunk in chunks[: len(chunks) // 2] + [late] + chunks[len(chunks) // 2 :]:
        publisher.publish(chunk)
    publisher.publish(world.sample(200, random_state=1))  # redelivered
    worker = stream_worker(settings, open_feature_store(settings, last_write_wins=True))
    worker.rebuild()  # a fresh worker: everything retained
    publisher.publish(world.tail(300))  # read after the rebuild: redeliveries again
    while worker.step():
        pass
    assert sum(worker.backend.backlog(GROUP, worker.streams).values()) == 0
    assert_online_equals_replay(settings, world)

    # What an operator runs: the stream is caught up, and live rows sampled against the event store's replay.
    from pipelines.data.event_store import event_store_for
    from pipelines.streaming.status import feature_status, live_parity

    status = feature_status(settings)
    assert status["stream_backlog"] == 0 and status["stream_lag_s"] == 0.0
    assert len(status["streams"]) == 2 * settings.stream_partitions  # a card's and a merchant's per partition
    store = event_store_for(settings)
    with store.locked():
        store.append_events(world, pd.Timestamp.now(tz="UTC"))
    for result in live_parity(settings, sample=1000):
        assert result.mismatched == 0 and result.equal == result.sampled > 0, result


def test_three_sigkills_mid_stream_leave_the_online_rows_equal_to_the_replay(
    registered: Settings, world: pd.DataFrame, tmp_path: Path
) -> None:
    db = registered.state_dir / "killed.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTLOOP_")}
    port = free_port()
    env.update(
        DRIFTLOOP_STATE_DIR=str(registered.state_dir),
        DRIFTLOOP_USE_CASE="fraud_streaming",
        DRIFTLOOP_STREAM_URL=f"sqlite:///{db}",
        DRIFTLOOP_STREAM_PARTITIONS="4",
        DRIFTLOOP_STREAM_PORT=str(port),
        DRIFTLOOP_STREAM_READ_BATCH="50",  # small batches: a kill lands between a push and its acknowledgement
    )
    driftloop = str(Path(sys.executable).with_name("driftloop"))
    routes = StreamRoutes.of(FRAUD, 4)
    publisher = StreamPublisher(lambda: SqliteStream(db), routes)
    batches = [world.iloc[i : i + 40] for i in range(0, len(world), 40)]
    kills = {len(batches) // 4, len(batches) // 2, 3 * len(batches) // 4}
    log = (tmp_path / "worker.log").open("ab")

    def start() -> subprocess.Popen[bytes]:
        """The worker, once it has rebuilt its windows and reads (so a kill lands mid-stream)."""
        process = subprocess.Popen([driftloop, "serve", "stream"], env=env, stdout=log, stderr=log)
        starts = (tmp_path / "worker.log").read_text().count("rebuilt")
        deadline = time.monotonic() + 60
        while (tmp_path / "worker.log").read_text().count("rebuilt") == starts:
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
            time.sleep(0.1)
        return process

    worker = start()
    try:
        for index, batch in enumerate(batches):
            publisher.publish(batch)
            time.sleep(0.02)
            if index in kills:
                time.sleep(0.3)  # let it get going on this batch, then kill it without warning
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
                worker = start()
        stream = SqliteStream(db)
        streams = routes.owned(0, 1)
        deadline = time.monotonic() + 90
        while sum(stream.backlog("stream-worker", streams).values()) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert sum(stream.backlog("stream-worker", streams).values()) == 0, (tmp_path / "worker.log").read_text()
    finally:
        worker.terminate()
        worker.wait(timeout=20)
    settings = registered.model_copy(update={"stream_url": f"sqlite:///{db}"})
    assert_online_equals_replay(settings, world)
    assert worker.returncode == 0, "SIGTERM stops the worker cleanly"
    assert (tmp_path / "worker.log").read_text().count("rebuilt") >= 4  # every start rebuilt its windows
