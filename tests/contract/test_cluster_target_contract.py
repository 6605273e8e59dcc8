"""CONTRACT TEST against a stand-in `kubectl` (no Kubernetes can run here): `driftloop --target cluster ...`.

The stand-in implements only the calls the CLI makes, and records each argv: `get pod -l ... -o jsonpath`,
`get secret ... -o jsonpath` (answering from a fixed table), and `exec -i POD -c CONTAINER -- CMD...`, which runs
CMD on this machine against a folder that plays the pod's state volume, stdin piped through. So the real
`driftloop` runs inside the stand-in's "pod", and the test sees what a landing leaves in the cluster's state,
what output and exit codes come back, and that no secret is ever on a command line. It does not prove a real
API server, the pod's image or its shell behave the same (the pod's `sh`, `head` and `mktemp` are this
machine's here, Debian's coreutils and dash in the image).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.contract

VENV_BIN = Path(sys.executable).parent
POD = "fraud-detector-predictor-00001-deployment-7d9f"
STAND_IN = """#!{python}
import base64, json, os, subprocess, sys

args = sys.argv[1:]
with open(os.environ["KUBECTL_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] != ["--context", "kind-driftloop"]:
    sys.exit(f'error: context "{{args[1]}}" does not exist')
namespace, verb = args[3], args[4:]
if verb[:2] == ["get", "pod"]:
    if os.environ.get("STAND_IN_NO_POD"):
        sys.exit("error: error executing jsonpath: array index out of bounds: index 0, length 0")
    print("{pod}", end="")
elif verb[:2] == ["get", "secret"]:
    secrets = json.loads(os.environ["STAND_IN_SECRETS"])
    key = verb[-1].removeprefix("jsonpath={{.data.").removesuffix("}}")
    print(base64.b64encode(secrets[verb[2]][key].encode()).decode(), end="")
elif verb[:2] == ["exec", "-i"] and verb[2] == "{pod}" and verb[3] == "-c" and verb[5] == "--":
    pod_env = {{"PATH": os.environ["STAND_IN_POD_PATH"], "DRIFTLOOP_STATE_DIR": os.environ["STAND_IN_POD_STATE"]}}
    sys.exit(subprocess.run(verb[6:], env=pod_env, cwd=os.environ["STAND_IN_POD_STATE"]).returncode)
else:
    sys.exit(f"stand-in kubectl: not a call driftloop makes: {{args}}")
"""


@pytest.fixture
def cluster(tmp_path: Path) -> dict[str, str]:
    """The environment a laptop's `driftloop` runs in: the stand-in first on PATH, its own (empty) state."""
    bin_dir, pod_state, laptop = tmp_path / "bin", tmp_path / "pod-state", tmp_path / "laptop"
    for folder in (bin_dir, pod_state, laptop):
        folder.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(STAND_IN.format(python=sys.executable, pod=POD))
    kubectl.chmod(0o755)
    registry = f"{pod_state}/feature_repo/registry.db"  # a file path: what the stand-in's "Secret" holds
    secrets = {"driftloop-postgres": {"feast-registry-reader-uri": registry, "feast-registry-writer-uri": registry}}
    return {
        "PATH": f"{bin_dir}:{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(laptop),
        "DRIFTLOOP_STATE_DIR": str(laptop / ".driftloop"),
        "KUBECTL_LOG": str(tmp_path / "kubectl.log"),
        "STAND_IN_SECRETS": json.dumps(secrets),
        "STAND_IN_POD_STATE": str(pod_state),
        "STAND_IN_POD_PATH": f"{VENV_BIN}:/usr/bin:/bin",
    }


def driftloop(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "driftloop"), *args], env=env, cwd=env["HOME"], capture_output=True, text=True, check=False
    )


def calls(env: dict[str, str]) -> list[list[str]]:
    return [json.loads(line) for line in Path(env["KUBECTL_LOG"]).read_text().splitlines()]


@pytest.fixture
def raw_data(tmp_path: Path) -> Path:
    """A day of the default use case's seeded transactions and labels, written on the laptop."""
    out = tmp_path / "my-data"
    result = subprocess.run(
        [str(VENV_BIN / "driftloop"), "data", "generate", "--days", "1", "--size", "30", "--out", str(out)],
        env={"PATH": os.environ["PATH"], "DRIFTLOOP_STATE_DIR": str(tmp_path / "generator")},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "wrote" in result.stdout
    return out


def test_a_landing_lands_in_the_clusters_state_and_status_relays_its_json(
    cluster: dict[str, str], raw_data: Path
) -> None:
    events = raw_data / "events.parquet"
    landed = driftloop(cluster, "--target", "cluster", "data", "ingest", "events", str(events))
    assert landed.returncode == 0, landed.stderr
    assert landed.stdout.startswith("/tmp/") and " landed, 0 already present, 0 quarantined" in landed.stdout
    in_pod = driftloop({**cluster, "DRIFTLOOP_STATE_DIR": cluster["STAND_IN_POD_STATE"]}, "data", "status", "--json")
    pod_figures = json.loads(in_pod.stdout)
    assert pod_figures["landed_events"] > 100 and pod_figures["landings"] == 1

    relayed = driftloop({**cluster, "DRIFTLOOP_TARGET": "cluster"}, "data", "status", "--json")
    assert relayed.returncode == 0, relayed.stderr
    assert json.loads(relayed.stdout) == pod_figures
    assert not Path(cluster["DRIFTLOOP_STATE_DIR"], "events").exists(), "nothing landed on the laptop"

    recorded = calls(cluster)
    execs = [call for call in recorded if "exec" in call]
    assert len(execs) == 2 and all(call[:4] == ["--context", "kind-driftloop", "-n", "kubeflow"] for call in recorded)
    assert execs[1][-4:] == ["driftloop", "data", "status", "--json"]
    reads = [call[4:] for call in recorded if "secret" in call]
    assert reads == [["get", "secret", "driftloop-postgres", "-o", "jsonpath={.data.feast-registry-reader-uri}"]]
    registry = json.loads(cluster["STAND_IN_SECRETS"])["driftloop-postgres"]["feast-registry-reader-uri"]
    assert not [call for call in recorded if any(registry in argument for argument in call)], "stdin only"
    assert not Path(landed.stdout.split(":")[0]).parent.exists(), "the pod's landing folder is removed after"
    assert str(events) not in " ".join(execs[0]), "the file is streamed, its laptop path means nothing there"


def test_the_pods_exit_code_and_stderr_come_back(cluster: dict[str, str], raw_data: Path) -> None:
    """Labels for events the cluster never saw are quarantined there: exit 1 with its reason; a usage error in
    the pod is Click's exit 2."""
    labels = driftloop(cluster, "--target", "cluster", "data", "ingest", "labels", str(raw_data / "labels.parquet"))
    assert labels.returncode == 1
    assert "labels rows were quarantined in " + cluster["STAND_IN_POD_STATE"] in labels.stderr
    usage = driftloop(cluster, "--target", "cluster", "monitor", "status", "--last", "0")
    assert usage.returncode == 2 and "--last" in usage.stderr
    paused = driftloop(
        {**cluster, "USER": "alice"}, "--target", "cluster", "loop", "pause", "--reason", "contract test"
    )
    assert paused.returncode == 0, paused.stderr
    shown = json.loads(driftloop(cluster, "--target", "cluster", "loop", "status", "--json").stdout)
    assert shown["paused"] and shown["pause"]["reason"] == "contract test"
    assert shown["pause"]["by"].startswith("alice@"), "the person at the laptop, not the pod's user"
    assert not driftloop(cluster, "loop", "status", "--json").stdout.count('"paused": true'), "laptop untouched"


@pytest.mark.parametrize(
    ("change", "args", "message"),
    [
        ({"DRIFTLOOP_CLUSTER_CONTEXT": "kind-elsewhere"}, ("data", "status"), "no kubectl context 'kind-elsewhere'"),
        ({"STAND_IN_NO_POD": "1"}, ("monitor", "status"), "no predictor pod (serving.kserve.io/inferenceservice="),
        ({}, ("local", "up"), "`driftloop local up` has no cluster path; run it with --target local"),
    ],
)
def test_what_cannot_reach_the_cluster_says_so_in_one_line(
    cluster: dict[str, str], change: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    result = driftloop({**cluster, **change}, "--target", "cluster", *args)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and message in line, line


def recipe_commands() -> list[str]:
    """The shell lines of docs/cluster.md's "Train on your own data" recipe, comments dropped."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "cluster.md").read_text()
    block = docs.split("### Train on your own data", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    lines = (line.split("  #", 1)[0].strip() for line in block.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def test_the_own_data_recipe_of_the_cluster_docs_works_as_written(cluster: dict[str, str], raw_data: Path) -> None:
    """Every `driftloop` line of the recipe, run as written (its `my/` files are the generated ones), leaves the
    cluster's event store holding the events and their labels; its last step is `make pipeline`."""
    *commands, train = recipe_commands()
    assert train == "make pipeline" and len(commands) == 4
    for line in commands:
        words = [word.replace("my/", f"{raw_data}/") for word in shlex.split(line)]
        assert words[0] == ".venv/bin/driftloop", line
        result = driftloop(cluster, *words[1:])
        assert result.returncode == 0, (line, result.stderr)
    in_pod = driftloop({**cluster, "DRIFTLOOP_STATE_DIR": cluster["STAND_IN_POD_STATE"]}, "data", "status", "--json")
    figures = json.loads(in_pod.stdout)
    assert figures["landed_events"] > 100 and figures["labels"] > 0 and figures["landings"] == 2
    assert not Path(cluster["DRIFTLOOP_STATE_DIR"], "events").exists(), "nothing landed on the laptop"
