"""`local up` on a running platform: a service started with other values of the settings it reads is named, never
kept silently. Here without servers: the services are one sleeping process under every service's pid record."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from driftloop.local.processes import ProcessRecord, record_path
from driftloop.local.runtime import LocalPlatform
from driftloop.local.services import LAUNCHER_ONLY, PRIVATE_READS, UPSTREAM_READS, local_services, reads_of
from driftloop.local.start_settings import StartSettings
from pipelines.core.errors import SettingsChangedError
from pipelines.core.settings import Settings

SLEEPER = [sys.executable, "-c", "import time; time.sleep(300)"]
SECRET = "hunter2-not-in-any-file"
OUR_SERVERS = ("predictor", "drift-monitor", "stream-worker")  # the default (in-process) serving topology's


@pytest.fixture
def sleeper() -> Iterator[psutil.Process]:
    """A process that stands in for every service (killed after the test)."""
    process = psutil.Popen(SLEEPER)
    yield process
    with contextlib.suppress(psutil.Error):
        process.kill()
        process.wait(timeout=10)


def platform(state_dir: Path, **settings: object) -> LocalPlatform:
    return LocalPlatform(Settings(state_dir=state_dir, **settings))  # type: ignore[arg-type]


def record_running(under_test: LocalPlatform, process: psutil.Process) -> None:
    """Pid records as `up` writes them: every service runs, started with `under_test`'s settings."""
    environment = under_test.child_env()
    for spec in under_test.services:
        start_settings = StartSettings.of(environment, spec.reads)
        log = under_test.layout.logs / f"{spec.name}.log"
        record = ProcessRecord.of(process, spec.name, SLEEPER, log, spec.url, spec.health_url, start_settings)
        record.save(under_test.layout.run)


def test_the_same_settings_keep_every_service_running(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, sleeper: psutil.Process
) -> None:
    record_running(platform(tmp_path), sleeper)
    result = platform(tmp_path).up()  # built anew, as a second `driftloop local up` builds it
    assert result.already_running == [spec.name for spec in platform(tmp_path).services]
    assert (result.started, result.restarted) == ([], [])
    assert sleeper.is_running()


def test_changed_settings_are_named_per_service_that_reads_them_and_nothing_starts(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, sleeper: psutil.Process
) -> None:
    first = platform(tmp_path)
    record_running(first, sleeper)
    records_before = {path.name: path.read_text() for path in first.layout.run.glob("*.json")}
    changed = platform(tmp_path, evidently_port=first.settings.evidently_port + 1, feast_redis_password=SECRET)

    with pytest.raises(SettingsChangedError) as raised:
        changed.up()

    assert raised.value.changed == {
        "evidently-ui": ["DRIFTLOOP_EVIDENTLY_PORT"],
        **{name: ["DRIFTLOOP_FEAST_REDIS_PASSWORD"] for name in OUR_SERVERS},
    }, "mlflow reads neither; only the Evidently UI reads its port"
    message = raised.value.message
    assert "  evidently-ui: DRIFTLOOP_EVIDENTLY_PORT" in message.splitlines()
    assert message.splitlines()[-1].startswith("to apply them: `driftloop local up --restart`")
    assert SECRET not in message
    assert sleeper.is_running(), "nothing was stopped"
    assert {path.name: path.read_text() for path in first.layout.run.glob("*.json")} == records_before


def test_a_change_of_use_case_names_our_servers_and_spares_the_upstream_ones(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, sleeper: psutil.Process
) -> None:
    record_running(platform(tmp_path, use_case="fraud"), sleeper)
    with pytest.raises(SettingsChangedError) as raised:
        platform(tmp_path, use_case="fraud", mlflow_workers=2, model_name="another-name").up()
    assert raised.value.changed == {
        "mlflow": ["DRIFTLOOP_MLFLOW_WORKERS"],
        **{name: ["DRIFTLOOP_MODEL_NAME"] for name in OUR_SERVERS},
    }


def test_a_switch_of_serving_topology_names_both_model_servers_and_nothing_stops(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, sleeper: psutil.Process
) -> None:
    """The predictor changes role (it looks features up itself now) and the transformer has no place in the
    in-process topology: both are named, by the setting that moved them; `--restart` restarts the one and stops
    the other (tests/integration/test_local_platform.py)."""
    record_running(platform(tmp_path, serving_topology="transformer"), sleeper)
    with pytest.raises(SettingsChangedError) as raised:
        platform(tmp_path).up()
    assert raised.value.changed == {
        "predictor": ["DRIFTLOOP_SERVING_TOPOLOGY", "DRIFTLOOP_TRANSFORMER_PORT"],  # it listens there now
        "transformer": ["DRIFTLOOP_SERVING_TOPOLOGY"],
    }, "only the model servers read the topology"
    assert sleeper.is_running()


def test_a_record_from_before_start_settings_is_kept_running(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, sleeper: psutil.Process
) -> None:
    first = platform(tmp_path)
    record_running(first, sleeper)
    path = record_path(first.layout.run, "mlflow")
    written_before = {k: v for k, v in json.loads(path.read_text()).items() if k != "start_settings"}
    path.write_text(json.dumps(written_before))  # what a driftloop without start settings wrote

    lines: list[str] = []
    result = platform(tmp_path, mlflow_workers=3).up(report=lines.append)
    assert "mlflow" in result.already_running
    assert "mlflow: its start settings were not recorded (an older driftloop started it)" in lines


def test_start_settings_keep_digests_only_and_tell_set_unset_and_changed_apart(tmp_path: Path) -> None:
    reads = {"SETTING_A", "SETTING_B", "SETTING_C", "SETTING_PASSWORD"}
    started = {"SETTING_A": "1", "SETTING_B": "x", "SETTING_PASSWORD": SECRET, "SETTING_NOT_READ": "y"}
    recorded = StartSettings.of(started, reads)
    assert set(recorded.digests) == {"SETTING_A", "SETTING_B", "SETTING_PASSWORD"}
    assert recorded.changed(started, reads) == []
    assert recorded.changed({**started, "SETTING_NOT_READ": "z"}, reads) == [], "a setting it does not read"
    now = {"SETTING_A": "2", "SETTING_C": "new", "SETTING_PASSWORD": SECRET + "!"}  # B unset, C set
    assert recorded.changed(now, reads) == ["SETTING_A", "SETTING_B", "SETTING_C", "SETTING_PASSWORD"]

    again = StartSettings.of(started, reads)
    assert again.salt != recorded.salt and again.digests["SETTING_A"] != recorded.digests["SETTING_A"]

    with psutil.Popen(SLEEPER) as process:
        try:
            ProcessRecord.of(process, "svc", SLEEPER, tmp_path / "svc.log", start_settings=recorded).save(tmp_path)
        finally:
            process.kill()
    path = record_path(tmp_path, "svc")
    assert SECRET not in path.read_text() and '"x"' not in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600, "the run folder's records are the platform user's alone"
    loaded = ProcessRecord.load(path)
    assert loaded is not None and loaded.start_settings == recorded
    assert loaded.start_settings.changed(now, reads) == recorded.changed(now, reads)


def test_each_service_reads_what_shapes_it() -> None:
    declared = LAUNCHER_ONLY.union(*UPSTREAM_READS.values(), *PRIVATE_READS.values())
    assert declared <= set(Settings.model_fields), "a misspelt name would never be compared"
    assert "DRIFTLOOP_EVIDENTLY_PORT" in reads_of("evidently-ui")
    assert not any("DRIFTLOOP_EVIDENTLY_PORT" in reads_of(name) for name in ("mlflow", "ray", *OUR_SERVERS))
    assert "DRIFTLOOP_TRANSFORMER_PORT" not in reads_of("predictor")
    assert "DRIFTLOOP_PREDICTOR_PORT" in reads_of("transformer"), "it calls the predictor there"
    (inprocess,) = [spec for spec in local_services(Settings()) if spec.name == "predictor"]
    assert "DRIFTLOOP_TRANSFORMER_PORT" in inprocess.reads, "the in-process predictor listens on the endpoint's port"
    assert "DRIFTLOOP_PREDICTOR_PORT" not in inprocess.reads
    assert not any("DRIFTLOOP_SERVING_TOPOLOGY" in reads_of(name) for name in ("drift-monitor", "stream-worker"))
    for name in OUR_SERVERS:
        assert {"DRIFTLOOP_USE_CASE", "DRIFTLOOP_FEATURE_ENGINE", "DRIFTLOOP_FEAST_ONLINE_STORE"} <= reads_of(name)
        assert "DRIFTLOOP_MLFLOW_PORT" in reads_of(name), "their tracking URI"
    for name in ("mlflow", "evidently-ui", "ray"):
        assert "DRIFTLOOP_USE_CASE" not in reads_of(name)
    launcher_only = {"DRIFTLOOP_STARTUP_TIMEOUT_S", "DRIFTLOOP_STOP_TIMEOUT_S"}
    assert not any(launcher_only & reads_of(name) for name in ("mlflow", "evidently-ui", "ray", *OUR_SERVERS))
