"""The event store, the prediction log and the offline tables on an S3 object store (`DRIFTLOOP_OBJECT_STORE_URL`),
with writers serialised by PostgreSQL advisory locks, as in a cluster whose pods run on several nodes.

Labelled stand-in: the S3 server is moto (`moto_server`, on loopback), not the cluster's SeaweedFS; it speaks the
same API but does not reproduce SeaweedFS's consistency or conditional-write atomicity under concurrency. The
PostgreSQL is Debian's real server. Everything else is the platform's real code: Feast reads the tables through
s3fs, the `ray` engine's tasks run in a real local Ray and open their own S3 clients.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from driftloop.local.ports import port_is_listening
from pipelines.core.layout import Layout
from pipelines.core.settings import Settings
from pipelines.data.storage import Folder
from tests.conftest import free_port
from tests.parity.upstream_images import postgres_program
from use_cases.fraud import USE_CASE as FRAUD
from use_cases.fraud.generator import FraudConfig, generate

pytestmark = [pytest.mark.integration, pytest.mark.contract]

BUCKET = "driftloop-test"
END = datetime(2026, 11, 1, tzinfo=UTC)
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "driftloop",
    "AWS_SECRET_ACCESS_KEY": "driftloop-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        if port_is_listening("127.0.0.1", port):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on {port}")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback with one bucket; the S3 credentials in this process's environment (the
    local Ray the tests start inherits them, as the cluster's pods get them from the object store's Secret)."""
    import boto3

    port = free_port()
    with pytest.MonkeyPatch.context() as environment:
        for name, value in S3_ENV.items():
            environment.setenv(name, value)
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for_port(port, server, "moto_server")
            endpoint = f"http://127.0.0.1:{port}"
            boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
            yield endpoint
        finally:
            server.terminate()
            server.wait(timeout=20)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL on loopback (trusting local connections), as the SQLAlchemy URL the settings take."""
    import tempfile

    home = Path(tempfile.mkdtemp(prefix="driftloop-postgres-"))  # not under pytest's root-only folder
    data = home / "data"
    owner = "postgres" if os.geteuid() == 0 else None  # PostgreSQL refuses to run as root
    server: subprocess.Popen[bytes] | None = None
    try:
        if owner:
            shutil.chown(home, owner, owner)
        subprocess.run([postgres_program("initdb"), "-D", str(data), "-U", "driftloop", "--auth=trust"],
                       check=True, capture_output=True, user=owner, env={**os.environ, "LANG": "C.UTF-8"})  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [postgres_program("postgres"), "-D", str(data), "-c", "listen_addresses=127.0.0.1", "-p", str(port),
             "-k", str(data)],
            user=owner, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_for_port(port, server, "postgres")
        yield f"postgresql+psycopg://driftloop@127.0.0.1:{port}/postgres"
    finally:
        if server is not None:
            server.send_signal(signal.SIGINT)  # fast shutdown
            server.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)


def test_a_folder_on_s3_reads_and_writes_as_a_local_folder_does(tmp_path: Path, s3_endpoint: str) -> None:
    """The same operations on a local folder and on an S3 prefix give the same answers."""
    frame = pd.DataFrame({"customer_id": [3, 1, 2], "amount": [1.5, 2.5, 3.5]})
    answers: dict[str, list[object]] = {}
    for kind, folder in {
        "local": Folder.at(tmp_path / "data"),
        "s3": Folder.at(f"s3://{BUCKET}/folder-test", s3_endpoint),
    }.items():
        seen: list[object] = [folder.files("*"), folder.read_text("log.txt"), folder.exists("a/part-1.parquet")]
        folder.write_parquet(frame, "a/part-1.parquet")
        folder.write_parquet(frame.head(1), "a/part-2.parquet")
        folder.write_parquet(frame, "b/part-1.parquet")
        folder.write_parquet(frame.tail(2), "a/part-2.parquet")  # replaced whole
        folder.append_text("log.txt", "one\n")
        folder.append_text("log.txt", "two\n")
        source = tmp_path / f"{kind}-upload.parquet"
        frame.to_parquet(source, index=False)
        folder.child("copies").put_file(source, "upload.parquet")
        seen += [
            folder.files("*/part-*.parquet"),
            folder.files("a/part-*.parquet"),
            folder.files("part-*.parquet"),
            folder.exists("a/part-1.parquet"),
            folder.read_parquet("a/part-2.parquet").to_dict("list"),
            folder.read_table("a/part-1.parquet", columns=["amount"]).to_pydict(),
            folder.parquet_file("b/part-1.parquet").metadata.num_rows,
            folder.read_schema("b/part-1.parquet").names,
            folder.read_text("log.txt"),
            folder.child("copies").read_parquet("upload.parquet").equals(frame),
        ]
        folder.delete("a/part-1.parquet")
        folder.delete("a/never-written.parquet")
        seen.append(folder.files("*/part-*.parquet"))
        folder.child("b").delete_all()
        seen.append(folder.files("*/*"))
        answers[kind] = seen
    assert answers["s3"] == answers["local"]
    assert answers["s3"][3] == ["a/part-1.parquet", "a/part-2.parquet", "b/part-1.parquet"]


def test_an_advisory_lock_excludes_other_writers_and_dies_with_its_holder(postgres_url: str) -> None:
    """The lock the cluster's writers take: held, nobody else gets it; its holder killed, it is free again."""
    import psycopg

    from pipelines.core.database_url import libpq_url
    from pipelines.data.writer_lock import WriterLockTimeout, advisory_key, postgres_lock

    key = advisory_key("driftloop:event-store")

    def free() -> bool:
        with psycopg.connect(libpq_url(postgres_url), autocommit=True) as probe:
            got = bool(probe.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])  # type: ignore[index]
            if got:
                probe.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return got

    assert free()
    with postgres_lock(postgres_url, "event-store"):
        assert not free()
        started = time.monotonic()
        with pytest.raises(WriterLockTimeout, match="stayed busy"), postgres_lock(postgres_url, "event-store", 0.3):
            pass  # a bounded wait gives up (the label route's 503)
        assert time.monotonic() - started < 2
    assert free()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom pipelines.data.writer_lock import postgres_lock\n"
         f"with postgres_lock({postgres_url!r}, 'event-store'):\n    print('held', flush=True)\n    time.sleep(600)\n"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        assert not free()
        holder.kill()
        holder.wait(timeout=20)
        for _ in range(50):  # the server notices the closed connection
            if free():
                break
            time.sleep(0.1)
        assert free()
    finally:
        holder.kill()


def test_on_s3_unreadable_parts_go_aside_and_compaction_replaces_parts_with_every_row_once(
    tmp_path: Path, s3_endpoint: str
) -> None:
    """The part sets' rules hold on an object store (no rename there: a move is a copy and a delete): a garbage
    part is moved to quarantine with its reason, compaction publishes one part and retires its inputs, and the
    event index reads what a full read reads."""
    from pipelines.data.compaction import compact_event_store
    from pipelines.data.event_index import EventIndex
    from pipelines.data.event_store import EventStore
    from pipelines.data.landing import land_events, land_labels
    from pipelines.data.schema import EVENT_ID
    from pipelines.data.writer_lock import file_lock

    events, labels = generate(FraudConfig(seed=4, days=2, size=20, merchants=4, end=END))
    root = Folder.at(f"s3://{BUCKET}/parts-test/events", s3_endpoint)
    predictions = Folder.at(f"s3://{BUCKET}/parts-test/predictions", s3_endpoint)
    store = EventStore(root, predictions, FRAUD, lambda: file_lock(tmp_path / "event-store.lock"))
    land_events(store, events.iloc[::2], "one.parquet", pd.Timestamp(END))
    land_events(store, events.iloc[1::2], "two.parquet", pd.Timestamp(END))
    land_labels(store, labels, "labels.parquet", pd.Timestamp(END))
    day = store.landed_dir.files("date=*/part-*.parquet")[0].split("/")[0]
    store.landed_dir.write_text(f"{day}/part-0-garbage.parquet", "not parquet at all")

    assert sorted(store.events()[EVENT_ID]) == sorted(events[EVENT_ID])
    [moved] = store.unreadable()
    assert moved.file.endswith(f"{day}/part-0-garbage.parquet") and "magic bytes" in moved.reason
    assert not store.landed_dir.exists(f"{day}/part-0-garbage.parquet")
    assert moved.moved_to is not None and store.unreadable_dir.exists(moved.moved_to.rsplit("/", 1)[1])

    outcomes = compact_event_store(store, set(store.part_names()))
    assert outcomes["landed"].parts_in == 2 * len(store.landed_dir.files("date=*/part-*.parquet"))
    assert all(name.endswith(".compacted.parquet") for name in store.landed_dir.files("date=*/part-*.parquet"))
    assert sorted(store.events()[EVENT_ID]) == sorted(events[EVENT_ID])
    index = EventIndex(store)
    assert set(index.event_times(events[EVENT_ID]).index) == set(events[EVENT_ID])


def _served_rows(events: pd.DataFrame, logged_at: pd.Timestamp) -> pd.DataFrame:
    """Prediction-log rows of transactions the endpoint answered (what the model server writes)."""
    from pipelines.data.prediction_log_format import LOGGED_AT, MODEL_VERSION, PREDICTION, ROLE, SERVED

    return events.assign(**{LOGGED_AT: logged_at, ROLE: SERVED, MODEL_VERSION: "1", PREDICTION: 0.1})


def _run_platform(settings: Settings, events: pd.DataFrame, labels: pd.DataFrame, snapshot: dict[str, Path]) -> dict:
    """Land, serve, refresh and build a training set through the platform's own entry points; what they made."""
    from driftloop.features.apply import apply_feature_repo
    from pipelines.data.event_store import event_store_for
    from pipelines.data.landing import land_events, land_labels
    from pipelines.data.storage import feature_data_folder, prediction_log_folder
    from pipelines.features.compute_engine import open_engine
    from pipelines.features.offline_store import offline_table_paths, read_offline_table
    from pipelines.features.refresh import current_watermark, refresh_features
    from pipelines.features.store import open_feature_store
    from pipelines.features.training_set_build import training_set_from_snapshot
    from serving.prediction_log import PredictionLog

    apply_feature_repo(settings)
    store = event_store_for(settings)
    cut = len(events) - 200  # the last 200 were answered by the endpoint, never landed
    landed_at = pd.Timestamp(END)
    log = PredictionLog(
        prediction_log_folder(settings), 0.05, Layout.from_settings(settings).prediction_log_segments
    ).start()
    log.append(_served_rows(events.iloc[cut:], pd.Timestamp(END)))
    log.close()
    assert land_events(store, events.iloc[:cut], "lake.parquet", landed_at).quarantined == 0
    assert land_labels(store, labels, "chargebacks.parquet", landed_at).quarantined == 0
    outcome = refresh_features(settings, now=END)
    features = (
        open_feature_store(settings)
        .get_online_features(
            features=["customer_stats:txn_count_24h", "merchant_stats:amount_mean_7d"],
            entity_rows=[
                {"customer_id": int(c), "merchant_id": 0} for c in sorted(events["customer_id"].unique())[:20]
            ],
        )
        .to_df()
    )
    with open_engine(settings) as engine:
        training = training_set_from_snapshot(settings, snapshot["events"], snapshot["labels"], 2, engine)
    tables = offline_table_paths(feature_data_folder(settings), FRAUD)
    return {
        "served": len(store.served_events()),
        "events": len(store.events()),
        "outcome": (outcome.watermark, outcome.start, outcome.events_read, outcome.rows_written),
        "watermark": current_watermark(settings),
        "tables": {view: read_offline_table(table, FRAUD.key_of(table.name)) for view, table in tables.items()},
        "online": features.sort_values("customer_id").reset_index(drop=True),
        "training": training,
    }


def test_the_platform_keeps_its_data_on_the_object_store_with_the_same_results(
    tmp_path: Path, s3_endpoint: str, postgres_url: str
) -> None:
    """Landed and served events, labels, the offline tables and the refresh state on S3 (no local data folder
    is written), with PostgreSQL locks and the Feast SQL registry: every result equals a run on local folders,
    for the pandas engine (Feast reading the tables through s3fs) and the ray engine (tasks opening their own
    S3 clients)."""
    events, labels = generate(FraudConfig(end=END, days=10, size=200, merchants=20, seed=11))
    snapshot = {"events": tmp_path / "events.parquet", "labels": tmp_path / "labels.parquet"}
    events.to_parquet(snapshot["events"], index=False)
    labels.to_parquet(snapshot["labels"], index=False)
    local = _run_platform(Settings(state_dir=tmp_path / "local"), events, labels, snapshot)
    assert local["served"] == 200 and local["events"] == len(events)
    assert local["outcome"][0] == END.isoformat() and sum(local["outcome"][3].values()) > 0
    assert len(local["training"]) > 400

    for engine in ("pandas", "ray"):
        state = tmp_path / f"s3-{engine}"
        settings = Settings(
            state_dir=state,
            object_store_url=f"s3://{BUCKET}/{engine}",
            object_store_endpoint=s3_endpoint,
            feast_registry_uri=_database(postgres_url, f"registry_{engine}"),
            feature_engine=engine,
            feature_partitions=3,
            ray_cpus=2,
            ray_object_store_mib=256,
        )
        remote = _run_platform(settings, events, labels, snapshot)
        for name in ("served", "events", "outcome", "watermark"):
            assert remote[name] == local[name], name
        for view, table in local["tables"].items():
            pd.testing.assert_frame_equal(remote["tables"][view], table, check_exact=True)
        pd.testing.assert_frame_equal(remote["online"], local["online"], check_exact=True)
        pd.testing.assert_frame_equal(remote["training"], local["training"], check_exact=True)
        written = {path.relative_to(state).parts[0] for path in state.rglob("*") if path.is_file()}
        assert {"events", "predictions", "scratch", "locks"}.isdisjoint(written), written  # locks: PostgreSQL
        assert not (state / "feast" / "offline").exists()
        assert Folder.at(f"s3://{BUCKET}/{engine}/feast", s3_endpoint).exists("refresh_state.json")
        assert Folder.at(f"s3://{BUCKET}/{engine}", s3_endpoint).files("scratch/*/*") == []  # cleaned up


def _database(postgres_url: str, name: str) -> str:
    """A new database on the server (each run its own Feast registry tables), as a URL."""
    import psycopg

    from pipelines.core.database_url import libpq_url

    with psycopg.connect(libpq_url(postgres_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"
