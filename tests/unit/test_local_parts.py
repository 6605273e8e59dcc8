from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from driftloop.local.ports import port_is_free, port_is_listening
from driftloop.local.services import inference_url, local_services
from pipelines.core.settings import Settings


def test_port_checks_see_a_listening_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        assert port_is_listening("127.0.0.1", port)
    assert port_is_free("127.0.0.1", port)


def test_services_follow_settings(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("DRIFTLOOP_MLFLOW_PORT", "15000")
    services = {s.name: s for s in local_services(Settings())}
    assert services["mlflow"].health_url == "http://127.0.0.1:15000/health"
    assert services["mlflow"].cli_args == ("serve", "mlflow")
    assert services["evidently-ui"].health_url == "http://127.0.0.1:8000/api/version"


def test_model_servers_follow_the_serving_topology(clean_env: pytest.MonkeyPatch) -> None:
    """The chart's default, one server looking features up itself, on the inference endpoint's port; or the
    transformer there in front of a predictor given the features. Clients find the endpoint at one URL either way."""
    inprocess = {s.name: s for s in local_services(Settings())}
    assert "transformer" not in inprocess
    predictor = inprocess["predictor"]
    assert predictor.cli_args == ("serve", "predictor", "--with-features", "--port", "8080")
    assert (predictor.url, predictor.port_setting) == ("http://127.0.0.1:8080", "transformer_port")
    two = {s.name: s for s in local_services(Settings(serving_topology="transformer"))}
    assert (two["transformer"].cli_args, two["transformer"].url) == (("serve", "transformer"), "http://127.0.0.1:8080")
    assert (two["predictor"].cli_args, two["predictor"].url) == (("serve", "predictor"), "http://127.0.0.1:8081")
    for topology in ("inprocess", "transformer"):
        assert inference_url(Settings(serving_topology=topology)) == "http://127.0.0.1:8080"
    clean_env.setenv("DRIFTLOOP_TRANSFORMER_PORT", "18080")
    assert {s.name: s.port for s in local_services(Settings())}["predictor"] == 18080


def test_cli_help_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys; from driftloop.cli import app; "
        "heavy = {'mlflow', 'feast', 'kserve', 'evidently', 'kfp', 'sklearn', 'pandas'} & set(sys.modules); "
        "print(', '.join(sorted(heavy))); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"imported at CLI start: {result.stdout} {result.stderr}"


def test_children_do_not_inherit_feasts_private_metrics_folder() -> None:
    """Importing feast sets a temporary metrics folder that vanishes with its process; a retraining run
    started by `monitor run` must not inherit it (it failed on its first metric when it did)."""
    import os
    import subprocess
    import sys

    from driftloop.local.processes import child_environment

    code = "import os, driftloop, feast; print(os.environ['PROMETHEUS_MULTIPROCESS_DIR'])"  # driftloop: fast feast
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PROMETHEUS_MULTIPROC")}  # feast's own choice
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=clean)
    folder = run.stdout.strip()
    assert "feast_metrics_" in folder and not os.path.exists(folder), "feast removes it when its process exits"
    inherited = {"PATH": "/bin", "PROMETHEUS_MULTIPROCESS_DIR": folder, "PROMETHEUS_MULTIPROC_DIR": folder}
    assert child_environment(inherited) == {"PATH": "/bin"}
    chosen = {"PROMETHEUS_MULTIPROC_DIR": "/var/run/metrics"}  # a user's own setting is kept
    assert child_environment(chosen) == chosen


def test_a_spawned_command_keeps_its_exit_code_after_other_processes_start(tmp_path: Path) -> None:
    """`local up` waits for `features apply` after starting the services: starting them must not reap the
    finished apply (Python reaps dropped Popens' children), or its exit code is lost and `up` fails."""
    from driftloop.local.processes import spawn

    ok = spawn([sys.executable, "-c", "pass"], tmp_path / "ok.log", {})
    failed = spawn([sys.executable, "-c", "raise SystemExit(3)"], tmp_path / "failed.log", {})
    for process in (ok, failed):
        while process.is_running() and process.status() != "zombie":
            time.sleep(0.05)
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # a later start reaps what it can
    assert ok.wait(timeout=10) == 0
    assert failed.wait(timeout=10) == 3
