"""The local platform for real: processes start, answer health checks, and all go away on `down`. It runs with
the `ray` feature engine, so the platform's own Ray head is one of the services: a command joins it instead of
starting a Ray of its own, and `down` leaves none of its processes behind. It serves in the default topology (the
chart's): one model server, the predictor looking features up itself on the inference endpoint's port; a switch to
the transformer topology and back restarts and stops just the model servers."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from driftloop.local.ports import port_is_listening
from tests.conftest import free_port
from tests.integration.local_platform import PlatformUnderTest, free_ports, isolated_env

pytestmark = pytest.mark.integration


def _platform(folder: Path) -> PlatformUnderTest:
    env = isolated_env(folder / "state", free_ports())
    return PlatformUnderTest(folder / "state", {**env, "DRIFTLOOP_FEATURE_ENGINE": "ray", "DRIFTLOOP_RAY_CPUS": "1"})


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformUnderTest]:
    """One platform brought up for the module's tests, in file order: up, a second up, an up with changed
    settings (refused, then --restart), the other serving topology and back, then down."""
    under_test = _platform(tmp_path_factory.mktemp("local-platform"))
    try:
        result = under_test.run("local", "up")
        assert result.returncode == 0, result.stderr + result.stdout
        yield under_test
    finally:
        under_test.run("local", "down")


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[PlatformUnderTest]:
    """A platform that is not up (and is taken down after the test, should it have started anything)."""
    under_test = _platform(tmp_path)
    try:
        yield under_test
    finally:
        under_test.run("local", "down")


def _tree_pids(pid: int) -> set[int]:
    root = psutil.Process(pid)
    return {pid, *(child.pid for child in root.children(recursive=True))}


def test_up_starts_healthy_services_and_applies_features(running: PlatformUnderTest) -> None:
    services = running.status()
    assert set(services) == {"ray", "mlflow", "evidently-ui", "predictor", "drift-monitor", "stream-worker"}
    assert services["predictor"]["url"] == f"http://127.0.0.1:{running.env['DRIFTLOOP_TRANSFORMER_PORT']}", (
        "the in-process predictor is the inference endpoint"
    )
    predictor = psutil.Process(services["predictor"]["pid"]).cmdline()
    assert "--with-features" in predictor, predictor
    for service in services.values():
        assert service["healthy"] is True
        assert service["state"] == "running"
        assert psutil.pid_exists(service["pid"])
        assert Path(service["log"]).is_file()
    assert httpx.get(services["mlflow"]["url"] + "/health").text == "OK"
    # Measured here first, then by `status`: a server still loading only grows in between.
    own = sum(p.memory_info().rss for p in map(psutil.Process, _tree_pids(services["predictor"]["pid"]))) / 2**20
    reported = running.status()["predictor"]["rss_mib"]
    assert reported >= 0.95 * own, "status counts the service's whole process session"
    assert all(50 < s["rss_mib"] < 2048 for s in services.values()), {n: s["rss_mib"] for n, s in services.items()}
    mlflow_tree = [psutil.Process(pid) for pid in _tree_pids(services["mlflow"]["pid"])]
    assert not [p.pid for p in mlflow_tree if "huey" in " ".join(p.cmdline())], "MLflow's job runner stays off"
    version = httpx.get(services["evidently-ui"]["url"] + "/api/version").json()
    assert version["application"] == "Evidently UI"
    search = services["mlflow"]["url"] + "/api/2.0/mlflow/experiments/search"
    assert httpx.get(search, params={"max_results": 10}).status_code == 401, "MLflow asks for a login"
    login = running.run("auth", "mlflow", "driftloop-monitor").stdout.strip().split(":", 1)
    experiments = httpx.get(search, params={"max_results": 10}, auth=(login[0], login[1]))
    assert experiments.status_code == 200
    assert (running.state_dir / "mlflow" / "mlflow.db").is_file()

    from feast import FeatureStore
    from feast.repo_config import RepoConfig

    feast_dir = running.state_dir / "feast"
    import yaml

    config = RepoConfig(repo_path=feast_dir, **yaml.safe_load((feast_dir / "feature_store.yaml").read_text()))
    views = {view.name for view in FeatureStore(config=config).list_feature_views()}
    assert views == {"customer_stats", "merchant_stats", "card_velocity"}

    # Before any data or model: the scheduled jobs succeed with a recorded "nothing yet", not a failure.
    check = running.run("monitor", "run")
    assert check.returncode == 0 and "no champion yet" in check.stdout, check.stdout + check.stderr
    decisions = json.loads(running.run("monitor", "status", "--json").stdout)["decisions"]
    assert decisions[-1]["action"] == "no_trigger" and "no champion yet" in decisions[-1]["reason"]
    refresh = running.run("features", "refresh")
    assert refresh.returncode == 0 and "nothing to refresh" in refresh.stdout, refresh.stdout + refresh.stderr


def test_a_feature_build_joins_the_platforms_ray(running: PlatformUnderTest) -> None:
    head = running.status()["ray"]
    assert head["url"] == f"tcp://127.0.0.1:{running.env['DRIFTLOOP_RAY_PORT']}"
    ray_before = {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in {"raylet", "gcs_server"}}
    build = running.run("-v", "features", "build", "--start", "2026-10-01T00:00:00", "--end", "2026-10-02T00:00:00")
    assert build.returncode == 1 and "holds no events" in build.stderr, build.stdout + build.stderr
    assert f"joining the Ray cluster at 127.0.0.1:{running.env['DRIFTLOOP_RAY_PORT']}" in build.stderr
    assert "starting a local Ray" not in build.stderr
    ray_after = {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in {"raylet", "gcs_server"}}
    assert ray_after == ray_before, "the build started no Ray of its own, and the platform's is still up"


def test_second_up_is_a_no_op(running: PlatformUnderTest) -> None:
    before = {name: s["pid"] for name, s in running.status().items()}
    again = running.run("local", "up")
    assert again.returncode == 0, again.stderr
    assert "mlflow: already running" in again.stdout
    assert "evidently-ui: already running" in again.stdout
    assert {name: s["pid"] for name, s in running.status().items()} == before


def test_up_with_changed_settings_names_them_and_restart_applies_them(running: PlatformUnderTest) -> None:
    before = {name: s["pid"] for name, s in running.status().items()}
    old_url = running.status()["evidently-ui"]["url"]
    new_port = free_port()
    secret = "not-printed-anywhere-8d1f"
    changed = {"DRIFTLOOP_EVIDENTLY_PORT": str(new_port), "DRIFTLOOP_FEAST_REDIS_PASSWORD": secret}
    refused = PlatformUnderTest(running.state_dir, {**running.env, **changed}).run("local", "up")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    lines = refused.stderr.splitlines()
    assert "  evidently-ui: DRIFTLOOP_EVIDENTLY_PORT" in lines, refused.stderr
    for name in ("predictor", "drift-monitor", "stream-worker"):
        assert f"  {name}: DRIFTLOOP_FEAST_REDIS_PASSWORD" in lines, refused.stderr
    assert not [line for line in lines if line.startswith(("  mlflow:", "  ray:"))], "they read neither"
    assert "driftloop local up --restart" in lines[-1] and "driftloop local down" in lines[-1]
    assert secret not in refused.stdout + refused.stderr
    assert {name: s["pid"] for name, s in running.status().items()} == before, "nothing restarted"

    running.env["DRIFTLOOP_EVIDENTLY_PORT"] = str(new_port)  # the rest of the module runs with it
    restarted = running.run("local", "up", "--restart")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "evidently-ui: restarting (started with other DRIFTLOOP_EVIDENTLY_PORT)" in restarted.stdout
    assert "mlflow: already running" in restarted.stdout
    after = running.status()
    ui = after["evidently-ui"]
    assert (ui["state"], ui["url"]) == ("running", f"http://127.0.0.1:{new_port}")
    assert ui["pid"] != before["evidently-ui"]
    assert httpx.get(ui["url"] + "/api/version").json()["application"] == "Evidently UI"
    assert not port_is_listening("127.0.0.1", int(old_url.rsplit(":", 1)[1]))
    assert {n: s["pid"] for n, s in after.items() if n != "evidently-ui"} == {
        n: pid for n, pid in before.items() if n != "evidently-ui"
    }, "only the service that reads the changed setting restarted"
    again = running.run("local", "up")
    assert again.returncode == 0 and "evidently-ui: already running" in again.stdout, again.stdout + again.stderr


def test_a_switch_of_serving_topology_restarts_and_stops_only_the_model_servers(running: PlatformUnderTest) -> None:
    before = {name: s["pid"] for name, s in running.status().items()}
    endpoint = f"http://127.0.0.1:{running.env['DRIFTLOOP_TRANSFORMER_PORT']}"
    two_servers = PlatformUnderTest(running.state_dir, {**running.env, "DRIFTLOOP_SERVING_TOPOLOGY": "transformer"})
    refused = two_servers.run("local", "up")
    moved = "DRIFTLOOP_PREDICTOR_PORT, DRIFTLOOP_SERVING_TOPOLOGY"  # it listens on its own port again
    assert refused.returncode == 1 and f"  predictor: {moved}" in refused.stderr.splitlines(), refused.stderr
    switched = two_servers.run("local", "up", "--restart")
    assert switched.returncode == 0, switched.stdout + switched.stderr
    assert f"predictor: restarting (started with other {moved})" in switched.stdout
    services = two_servers.status()
    assert services["transformer"]["url"] == endpoint and services["transformer"]["healthy"]
    assert services["predictor"]["url"] == f"http://127.0.0.1:{running.env['DRIFTLOOP_PREDICTOR_PORT']}"
    assert "--with-features" not in psutil.Process(services["predictor"]["pid"]).cmdline()
    unchanged = {n: s["pid"] for n, s in services.items() if n not in ("predictor", "transformer")}
    assert unchanged == {n: pid for n, pid in before.items() if n != "predictor"}, "only the model servers moved"

    transformer_pid = services["transformer"]["pid"]
    refused = running.run("local", "up")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "  transformer: DRIFTLOOP_SERVING_TOPOLOGY" in refused.stderr.splitlines(), refused.stderr
    back = running.run("local", "up", "--restart")
    assert back.returncode == 0, back.stdout + back.stderr
    assert "transformer: stopped (the inprocess serving topology runs no transformer)" in back.stdout
    assert not psutil.pid_exists(transformer_pid) or psutil.Process(transformer_pid).status() == "zombie"
    services = running.status()
    assert "transformer" not in services and services["predictor"]["url"] == endpoint
    assert services["predictor"]["healthy"]


def test_down_leaves_no_process_and_no_listening_port(running: PlatformUnderTest) -> None:
    services = running.status()
    ours = set().union(*(_tree_pids(s["pid"]) for s in services.values()))
    ports = [int(s["url"].rsplit(":", 1)[1]) for s in services.values()]

    result = running.run("local", "down")
    assert result.returncode == 0, result.stderr
    assert f"stopped {len(services)} service(s)" in result.stdout

    alive = [pid for pid in ours if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
    assert alive == []
    ray_session = f"driftloop-ray-{running.env['DRIFTLOOP_RAY_PORT']}"  # in every Ray process's arguments
    assert [p.pid for p in psutil.process_iter(["cmdline"]) if ray_session in " ".join(p.info["cmdline"] or [])] == []
    assert [port for port in ports if port_is_listening("127.0.0.1", port)] == []
    status = running.run("local", "status", "--json")
    assert status.returncode == 3
    assert {s["state"] for s in running.status().values()} == {"stopped"}
    assert running.run("local", "down").stdout.strip() == "nothing was running"


def test_taken_port_is_a_clear_error_and_starts_nothing(platform: PlatformUnderTest) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        platform.env["DRIFTLOOP_EVIDENTLY_PORT"] = str(taken)
        result = platform.run("local", "up")
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert f"port {taken}" in message
    assert "DRIFTLOOP_EVIDENTLY_PORT" in message
    assert "Traceback" not in result.stderr
    assert {s["state"] for s in platform.status().values()} == {"stopped"}
