"""`--target cluster`: the kubectl invocation each command becomes, built without a cluster (pure)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from driftloop.cli import app
from driftloop.cli.cluster_target import CLUSTER_PATHS, command_path, has_cluster_path
from driftloop.cluster.pod_commands import (
    DATABASE_SECRET,
    PREDICTOR_CONTAINER,
    REGISTRY_READER,
    REGISTRY_WRITER,
    pod_command,
)
from driftloop.cluster.remote import ClusterAddress, ClusterPlatform, exec_argv, explain_kubectl_failure
from driftloop.cluster.upstream import PINS
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings
from pipelines.registry.users import CLUSTER_SECRET, PASSWORD_VARIABLE, MlflowUser

ADDRESS = ClusterAddress("kind-driftloop", "kubeflow")
POD = "fraud-detector-predictor-7d9f"
EXEC = ["kubectl", "--context", "kind-driftloop", "-n", "kubeflow", "exec", "-i", POD, "-c", PREDICTOR_CONTAINER, "--"]
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "args",
    [
        ("data", "status", "--json"),
        ("monitor", "status", "--last", "3", "--json"),
        ("monitor", "quality"),
        ("features", "status", "--json"),
        ("loop", "status", "--json"),
    ],
)
def test_a_read_runs_as_typed_in_the_predictor_pod(args: tuple[str, ...]) -> None:
    command = pod_command(args, operator="alice")
    assert exec_argv(ADDRESS, POD, command) == [*EXEC, "driftloop", *args]
    assert command.secrets == () and command.uploads == ()


def test_a_drift_check_gets_the_registry_readers_url_on_stdin_and_its_arguments_untouched() -> None:
    command = pod_command(("monitor", "run", "--json", "--dry-run"))
    argv = exec_argv(ADDRESS, POD, command)
    assert argv[: len(EXEC)] == EXEC and argv[len(EXEC) : len(EXEC) + 2] == ["sh", "-c"]
    assert argv[len(EXEC) + 2] == (
        'IFS= read -r DRIFTLOOP_FEAST_REGISTRY_URI && export DRIFTLOOP_FEAST_REGISTRY_URI && exec driftloop "$@"'
    )
    assert argv[len(EXEC) + 3 :] == ["driftloop", "monitor", "run", "--json", "--dry-run"]
    assert command.secrets == (REGISTRY_READER,)
    assert REGISTRY_READER.secret == DATABASE_SECRET and REGISTRY_READER.key == "feast-registry-reader-uri"


def test_the_refresh_gets_the_writers_url() -> None:
    assert pod_command(("features", "refresh")).secrets == (REGISTRY_WRITER,)


def test_loop_moves_record_the_person_at_this_machine_not_the_pods_user() -> None:
    for verb in ("pause", "resume"):
        command = pod_command(("loop", verb, "--reason", "release freeze"), operator="alice")
        assert command.argv == ("env", "USER=alice", "driftloop", "loop", verb, "--reason", "release freeze")


def test_a_landing_streams_its_file_into_a_folder_of_its_own_and_lands_it_there(tmp_path: Path) -> None:
    landing = tmp_path / "my events.parquet"
    landing.write_bytes(b"x" * 1234)
    command = pod_command(("data", "ingest", "events", str(landing)), operator="alice")
    assert command.uploads == (landing,) and command.secrets == (REGISTRY_READER,)
    sh, flag, script = command.argv
    assert (sh, flag) == ("sh", "-c")
    steps = script.split(" && ")
    assert steps[:2] == ["IFS= read -r DRIFTLOOP_FEAST_REGISTRY_URI", "export DRIFTLOOP_FEAST_REGISTRY_URI"]
    assert steps[2] == "d=$(mktemp -d -p /tmp)" and steps[3] == "trap 'rm -rf \"$d\"' EXIT"
    assert steps[4] == "head -c 1234 > \"$d\"/'my events.parquet'"
    assert shlex.split(steps[5]) == ["driftloop", "data", "ingest", "events", "$d/my events.parquet"]
    assert str(tmp_path) not in script, "the laptop's path means nothing in the pod"


def test_files_of_the_same_name_land_under_distinct_names(tmp_path: Path) -> None:
    first, second = tmp_path / "a" / "labels.parquet", tmp_path / "b" / "labels.parquet"
    for path, size in ((first, 3), (second, 5)):
        path.parent.mkdir()
        path.write_bytes(b"y" * size)
    command = pod_command(("data", "ingest", "labels", str(first), str(second)))
    script = command.argv[2]
    assert 'head -c 3 > "$d"/0-labels.parquet && head -c 5 > "$d"/1-labels.parquet' in script
    assert script.endswith('driftloop data ingest labels "$d"/0-labels.parquet "$d"/1-labels.parquet')
    assert command.uploads == (first, second)


def test_a_missing_file_is_refused_before_anything_reaches_the_cluster(tmp_path: Path) -> None:
    with pytest.raises(DriftloopError, match="no such file to land: .*nothere.parquet"):
        pod_command(("data", "ingest", "events", str(tmp_path / "nothere.parquet")))


def test_a_model_move_acts_as_mlflows_admin_and_records_the_person() -> None:
    """The hook for `driftloop model ...` (issue 32, item 2): the pod's own MLflow login only reads."""
    command = pod_command(("model", "promote", "3", "--reason", "canary held"), operator="alice")
    assert [(s.variable, s.secret, s.key) for s in command.secrets] == [
        (PASSWORD_VARIABLE, CLUSTER_SECRET, MlflowUser.ADMIN.password_file)
    ]
    script = command.argv[2]
    assert "export MLFLOW_TRACKING_USERNAME=admin" in script and "export USER=alice" in script
    assert command.argv[3:] == ("driftloop", "model", "promote", "3", "--reason", "canary held")


def test_every_listed_cluster_path_is_a_command_of_the_cli() -> None:
    """A listed path is a command, or (`model`) a whole group of them."""
    import typer.main

    root = typer.main.get_command(app)
    for path in CLUSTER_PATHS:
        found, is_command = command_path(root, [*path, "--json"])  # type: ignore[arg-type]
        assert found == path and (is_command or path == ("model",)), path


def test_only_the_listed_commands_have_a_cluster_path() -> None:
    import typer.main

    root = typer.main.get_command(app)
    assert has_cluster_path(("data", "ingest", "events")) and has_cluster_path(("model", "promote"))
    for path in (("local", "up"), ("data", "generate"), ("features", "refresh"), ("pipeline", "submit")):
        found, is_command = command_path(root, path)  # type: ignore[arg-type]
        assert found == path and is_command and not has_cluster_path(path), path
    assert command_path(root, ["data", "ingest"]) == (("data", "ingest"), False)  # type: ignore[arg-type]


def test_kubectls_commonest_failures_become_a_line_to_act_on() -> None:
    context = explain_kubectl_failure(ADDRESS, 'error: context "kind-driftloop" does not exist')
    assert context is not None and "make up" in context and "DRIFTLOOP_CLUSTER_CONTEXT" in context
    refused = "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
    assert "does not answer" in (explain_kubectl_failure(ADDRESS, refused) or "")
    assert explain_kubectl_failure(ADDRESS, "Error from server (Forbidden): pods is forbidden") is None


def test_without_kubectl_the_error_says_where_to_get_it(tmp_path: Path) -> None:
    platform = ClusterPlatform(ClusterAddress("kind-driftloop", "kubeflow", str(tmp_path / "kubectl")), "m")
    with pytest.raises(DriftloopError, match=r"kubectl not found \(.*\): `make up` installs the pinned one"):
        platform.predictor_pod()


def test_the_default_address_is_the_cluster_make_up_builds(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.target == "local"
    cluster_mk = (REPO / "cluster.mk").read_text()
    assert re.search(rf"^CLUSTER_CONTEXT := --context {settings.cluster_context}$", cluster_mk, re.M)
    assert re.search(rf"^CLUSTER_NAMESPACE := {settings.cluster_namespace}$", cluster_mk, re.M)
    assert settings.cluster_namespace == PINS.kfp_namespace
    assert ClusterAddress.from_settings(settings, "kubectl").argv("get", "pod") == [
        "kubectl",
        "--context",
        "kind-driftloop",
        "-n",
        "kubeflow",
        "get",
        "pod",
    ]
