"""`make demo-cluster` (`driftloop demo --target cluster`) without a cluster: a labelled contract test.

A stand-in `kubectl` on the path records what the demo's cluster target asks of it. The test then holds
those calls against what is real here: the endpoints against kind-config.yaml's host ports, the pod it
execs into against the rendered chart, and every `driftloop` command it runs in that pod against our CLI.
"""

from __future__ import annotations

import shlex
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from tests.cluster.conftest import CHART, REPO, VALUE_FILES, render

DRIFTLOOP = str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "driftloop")

STAND_IN = """#!/usr/bin/env bash
{ printf '%q ' "$@"; echo; } >> "$KUBECTL_LOG"  # one line a call, each argument shell-quoted
case "$*" in  # a command given the registry's URL on stdin: its first line, recorded
  *"read -r DRIFTLOOP_FEAST_REGISTRY_URI"*) IFS= read -r url; echo "$url" >> "$KUBECTL_STDIN_LOG";;
esac
case "$*" in
  *"get pod"*) printf 'fraud-detector-predictor-7d9f';;
  *"get secret driftloop-api-tokens"*) printf %s c3RhbmQtaW4tdG9rZW4=;;  # base64 of stand-in-token
  *"get secret driftloop-postgres"*"writer"*) printf %s 'postgresql+psycopg://feast_writer:w@pg/feast' | base64 -w0;;
  *"get secret driftloop-postgres"*"reader"*) printf %s 'postgresql+psycopg://feast_reader:r@pg/feast' | base64 -w0;;
  *"data ingest"*) cat > /dev/null; echo "/tmp/x.parquet: 3 events rows: 3 landed, 0 already present, 0 quarantined";;
  *"monitor run"*) echo '{"action": "no_trigger", "reason": "stand-in", "skew_share": 0.0}';;
  *) echo ok;;
esac
"""
WRITER_URL = "postgresql+psycopg://feast_writer:w@pg/feast"
READER_URL = "postgresql+psycopg://feast_reader:r@pg/feast"


@pytest.fixture
def calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    from driftloop.demo.targets import ClusterTarget
    from pipelines.core.settings import Settings

    kubectl = tmp_path / "kubectl"
    kubectl.write_text(STAND_IN)
    kubectl.chmod(0o755)
    log = tmp_path / "calls.log"
    monkeypatch.setenv("KUBECTL_LOG", str(log))
    monkeypatch.setenv("KUBECTL_STDIN_LOG", str(tmp_path / "stdin.log"))
    target = ClusterTarget(Settings(), kubectl=str(kubectl))
    client = target.client(target.endpoints())
    landing = tmp_path / "events.parquet"
    pd.DataFrame({"event_id": ["a", "b", "c"]}).to_parquet(landing)
    assert "3 landed" in client.land("events", landing)
    client.land("labels", landing)
    client.refresh_features()
    assert client.check_drift(datetime.now(UTC))["action"] == "no_trigger"
    target.train(client, trigger="demo:initial")
    client.run("data", "status", "--json")
    return [shlex.split(line) for line in log.read_text().splitlines()]


def _driftloop_args(call: list[str]) -> list[str]:
    """The driftloop command an exec runs: after `-- driftloop`, after `sh -c '... exec driftloop "$@"' driftloop`,
    or at the end of `sh -c '... && driftloop ...'` (a landing)."""
    after = call[call.index("--") + 1 :]
    if after[0] == "driftloop":
        return after[1:]
    script, rest = after[after.index("-c") + 1], after[after.index("-c") + 2 :]
    if rest:
        assert rest[0] == "driftloop" and script.endswith('exec driftloop "$@"'), call
        return rest[1:]
    return shlex.split(script.rsplit("&& driftloop ", 1)[1])


def test_every_command_the_cluster_demo_runs_exists_with_its_options(calls: list[list[str]]) -> None:
    execs = [call for call in calls if "exec" in call]
    assert len(execs) == 6 and all(
        call[:5] == ["--context", "kind-driftloop", "-n", "kubeflow", "exec"] for call in execs
    )
    for call in execs:
        args = _driftloop_args(call)
        path = [a for a in args if not a.startswith("-") and not a.startswith("/") and ":" not in a]
        words = [w for w in path if w in {"data", "ingest", "events", "labels", "features", "refresh", "monitor", "run",
                                           "pipeline", "submit", "status"}]  # fmt: skip
        result = subprocess.run([DRIFTLOOP, *words, "--help"], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (args, result.stderr)
        for option in (a for a in args if a.startswith("--")):
            assert option in result.stdout, (args, option)


def test_the_pod_it_execs_into_is_the_charts_predictor_with_the_state_volume(calls: list[list[str]]) -> None:
    """The default release (the demo's settings are the default use case's)."""
    from driftloop.cluster.pod_commands import LANDING_DIR_IN_POD, PREDICTOR_CONTAINER, PREDICTOR_SELECTOR
    from pipelines.kfp.cluster_wiring import STATE_DIR, STATE_VOLUME_CLAIM

    rendered = render(VALUE_FILES["default"])
    lookup = next(call for call in calls if "get" in call)
    isvc = next(obj for obj in rendered if obj["kind"] == "InferenceService")
    assert lookup[lookup.index("-l") + 1] == PREDICTOR_SELECTOR.format(model=isvc["metadata"]["name"])
    predictor = isvc["spec"]["predictor"]
    container = next(c for c in predictor["containers"] if c["name"] == PREDICTOR_CONTAINER)
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in predictor["volumes"]}
    assert volumes[mounts[STATE_DIR]]["persistentVolumeClaim"]["claimName"] == STATE_VOLUME_CLAIM
    assert "emptyDir" in volumes[mounts[LANDING_DIR_IN_POD]], "landings are streamed to an emptyDir"
    assert all(call[call.index("-c") + 1] == PREDICTOR_CONTAINER for call in calls if "exec" in call)


def test_its_endpoints_are_the_host_ports_kind_maps() -> None:
    from driftloop.demo.targets import ClusterTarget
    from pipelines.core.settings import Settings

    kind = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    host_port = {m["containerPort"]: m["hostPort"] for m in kind["nodes"][0]["extraPortMappings"]}
    node_ports = yaml.safe_load((CHART / "values.yaml").read_text())["nodePorts"]
    endpoints = ClusterTarget(Settings()).endpoints()
    for name, key in (("inference", "inference"), ("mlflow", "mlflow"), ("evidently-ui", "evidently"),
                      ("grafana", "grafana")):  # fmt: skip
        assert endpoints[name].endswith(f":{host_port[node_ports[key]]}"), (name, endpoints[name])


def test_make_demo_cluster_runs_the_cluster_demo() -> None:
    dry_run = subprocess.run(["make", "-n", "demo-cluster"], cwd=REPO, capture_output=True, text=True, check=True)
    assert ".venv/bin/driftloop demo --target cluster" in dry_run.stdout


def test_the_demo_reads_its_tokens_from_the_charts_secret(calls: list[list[str]]) -> None:
    """The demo sends traffic and labels with the release's own tokens (tests/cluster/test_chart.py holds the
    Secret's name and keys against the rendered chart)."""
    reads = [call[call.index("get") :] for call in calls if "secret" in call and "driftloop-api-tokens" in call]
    assert reads == [
        ["get", "secret", "driftloop-api-tokens", "-o", "jsonpath={.data.score}"],
        ["get", "secret", "driftloop-api-tokens", "-o", "jsonpath={.data.label}"],
    ]


def test_a_command_needing_the_registry_gets_its_roles_url_on_stdin_never_on_a_command_line(
    calls: list[list[str]], tmp_path: Path
) -> None:
    """The predictor pod the demo execs into has no database login (an inference pod): the landings and the
    drift check get the registry's reader URL, the refresh (it materialises) the writer's, read from the
    release's Secret with kubectl; none of it appears in any argument (`ps` in the pod, the API's audit log)."""
    import base64

    from tests.cluster.conftest import render

    given = (tmp_path / "stdin.log").read_text().splitlines()
    assert given == [READER_URL, READER_URL, WRITER_URL, READER_URL]  # land events, land labels, refresh, drift
    assert not [call for call in calls if any("postgresql" in argument for argument in call)]
    reads = [call[call.index("secret") + 1 :] for call in calls if "driftloop-postgres" in call]
    keys = {read[-1].removeprefix("jsonpath={.data.").removesuffix("}") for read in reads}
    assert keys == {"feast-registry-reader-uri", "feast-registry-writer-uri"}, "never the superuser's"
    (secret,) = [o for o in render(None) if o["kind"] == "Secret" and o["metadata"]["name"] == "driftloop-postgres"]
    for key in keys:
        role = "feast_writer" if "writer" in key else "feast_reader"
        assert base64.b64decode(secret["data"][key]).decode().startswith(f"postgresql+psycopg://{role}:")
