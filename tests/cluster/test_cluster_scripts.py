"""Contract tests of the cluster scripts with stand-ins on PATH (labelled: no Docker, kind or cluster here).

`up.sh --check` refuses what would fail half-way through `make up` (an arm64 host, too little memory for
Docker, low inotify limits) before creating anything; `install-tools.sh` picks the official binary for the
host's OS and CPU and refuses one whose sha256 differs from the pin; `make predict` scores the release's use case
and fails on a non-200; `make up USE_CASE=...` runs that use case and refuses one the chart does not.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from driftloop.cluster.upstream import PINS
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "platform" / "driftloop" / "cluster" / "scripts"
UP = SCRIPTS / "up.sh"
INSTALL_TOOLS = SCRIPTS / "install-tools.sh"
GIB = 1024**3


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/usr/bin/env bash\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def _host(tmp_path: Path, os_name: str = "Linux", cpu: str = "x86_64", docker_gib: int = 16,
          inotify: tuple[int, int] = (8192, 1048576)) -> dict[str, str]:  # fmt: skip
    """PATH with stand-ins for uname, docker, kind and sysctl describing a host; the system's tools after."""
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    _stub(stubs, "uname", f"case $1 in -m) echo {cpu} ;; *) echo {os_name} ;; esac")
    _stub(stubs, "docker", f"[[ $* == *MemTotal* ]] && echo {docker_gib * GIB}; exit 0")
    _stub(stubs, "kind", "exit 0")
    _stub(stubs, "sysctl", f"case $2 in *instances) echo {inotify[0]} ;; *) echo {inotify[1]} ;; esac")
    return {**os.environ, "PATH": f"{stubs}:/usr/bin:/bin"}


def _kind_config(tmp_path: Path, host_ports: list[int]) -> Path:
    """kind-config.yaml with its host ports replaced (the real ones may be taken by a local platform here)."""
    config = yaml.safe_load((REPO / "kind-config.yaml").read_text())
    mappings = config["nodes"][0]["extraPortMappings"][: len(host_ports)]
    for mapping, port in zip(mappings, host_ports, strict=True):
        mapping["hostPort"] = port
    config["nodes"][0]["extraPortMappings"] = mappings
    path = tmp_path / "kind-config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _up_check(
    env: dict[str, str], tmp_path: Path, kind_config: Path | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    config = kind_config or _kind_config(tmp_path, [free_port(), free_port()])
    command = ["bash", str(UP), "--check", "--kind-config", str(config), *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_a_ready_host_passes_the_checks(tmp_path: Path) -> None:
    result = _up_check(_host(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "prerequisites met" in result.stdout


@pytest.mark.parametrize("cpu", ["arm64", "aarch64"])
def test_arm64_is_refused_before_anything_is_created(tmp_path: Path, cpu: str) -> None:
    env = _host(tmp_path, os_name="Darwin", cpu=cpu)
    (tmp_path / "bin" / "docker").unlink()  # refused before Docker is even looked at
    result = _up_check(env, tmp_path)
    assert result.returncode == 1
    assert "x86-64 host" in result.stderr and "kubeflow/pipelines#10308" in result.stderr
    assert "Local mode (make demo) runs on arm64" in result.stderr


def test_docker_memory_is_what_is_checked_not_the_hosts_free_memory(tmp_path: Path) -> None:
    result = _up_check(_host(tmp_path, docker_gib=PINS.min_docker_memory_gib - 4), tmp_path)
    assert result.returncode == 1
    assert f"Docker can use {PINS.min_docker_memory_gib - 4} GiB" in result.stderr and "Resources" in result.stderr
    macos = _up_check(_host(tmp_path, os_name="Darwin", docker_gib=PINS.min_docker_memory_gib - 4), tmp_path)
    assert macos.returncode == 1, "macOS is checked too"


def test_the_ray_profile_asks_docker_for_the_raycluster_too(tmp_path: Path) -> None:
    enough = _host(tmp_path, docker_gib=PINS.min_docker_memory_gib)
    assert _up_check(enough, tmp_path).returncode == 0
    with_ray = _up_check(enough, tmp_path, None, "--ray")
    needed = PINS.min_docker_memory_gib + PINS.ray_extra_docker_memory_gib
    assert with_ray.returncode == 1 and f"needs {needed} GiB with Ray" in with_ray.stderr, with_ray.stderr
    roomy = _host(tmp_path, docker_gib=needed)
    assert _up_check(roomy, tmp_path, None, "--ray").returncode == 0


def test_a_host_port_the_cluster_maps_must_be_free(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        result = _up_check(_host(tmp_path), tmp_path, _kind_config(tmp_path, [free_port(), busy]))
    assert result.returncode == 1
    assert "host ports in use" in result.stderr and str(busy) in result.stderr


def test_low_inotify_limits_are_refused_with_the_fix(tmp_path: Path) -> None:
    result = _up_check(_host(tmp_path, inotify=(128, 8192)), tmp_path)
    assert result.returncode == 1
    assert "sudo sysctl fs.inotify.max_user_instances=512" in result.stderr
    on_macos = _up_check(_host(tmp_path, os_name="Darwin", inotify=(128, 8192)), tmp_path)
    assert on_macos.returncode == 0, "inotify is a Linux host's limit"


@pytest.mark.parametrize(("os_name", "cpu", "platform"), [
    ("Linux", "x86_64", "linux-amd64"), ("Linux", "aarch64", "linux-arm64"),
    ("Darwin", "x86_64", "darwin-amd64"), ("Darwin", "arm64", "darwin-arm64"),
])  # fmt: skip
def test_the_official_binaries_for_each_host_with_their_pinned_sums(
    tmp_path: Path, os_name: str, cpu: str, platform: str
) -> None:
    env = _host(tmp_path, os_name=os_name, cpu=cpu)
    plan = subprocess.run(["bash", str(INSTALL_TOOLS), "--print-plan"], env=env, capture_output=True, text=True)
    assert plan.returncode == 0, plan.stderr
    helm, kubectl = (line.split() for line in plan.stdout.strip().splitlines())
    key = platform.replace("-", "_")
    assert helm == ["helm", f"https://get.helm.sh/helm-{PINS.helm_version}-{platform}.tar.gz",
                    getattr(PINS, f"helm_sha256_{key}")]  # fmt: skip
    os_part, cpu_part = platform.split("-")
    assert kubectl == [
        "kubectl", f"https://dl.k8s.io/release/{PINS.kubectl_version}/bin/{os_part}/{cpu_part}/kubectl",
        getattr(PINS, f"kubectl_sha256_{key}"),
    ]  # fmt: skip


def test_a_download_whose_sum_differs_from_the_pin_is_refused(tmp_path: Path) -> None:
    env = _host(tmp_path, os_name="Darwin", cpu="arm64")
    _stub(tmp_path / "bin", "curl", 'while (($#)); do [[ $1 == -o ]] && echo "not helm" > "$2"; shift; done')
    into = tmp_path / "tools"
    result = subprocess.run(
        ["bash", str(INSTALL_TOOLS), "--into", str(into)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "does not match the pinned" in result.stderr and PINS.helm_sha256_darwin_arm64 in result.stderr
    assert not (into / "helm").exists()


def _release_kubectl(tmp_path: Path, use_case: str = "fraud", model: str = "fraud-detector") -> None:
    """A kubectl stand-in for an installed release: the score token, the settings' use case and model name."""
    _stub(
        tmp_path / "bin",
        "kubectl",
        f"""echo "$*" >> {tmp_path}/kubectl.log
case $* in *configmap*) printf '%s' '{use_case} {model}' ;; *) printf %s c2NvcmUtdG9rZW4= ;; esac""",
    )


def test_make_predict_fails_when_the_endpoint_does_not_answer_200(tmp_path: Path) -> None:
    """It reads the score token from the release's Secret and sends it; a 503 on every try is an error."""
    env = _host(tmp_path)
    _release_kubectl(tmp_path)
    _stub(tmp_path / "bin", "curl", f'echo "$*" >> {tmp_path}/curl.log; exit 22')  # `curl -f` on a 503
    result = subprocess.run(
        ["make", "--no-print-directory", "predict", "PREDICT_TRIES=2", f"KUBECTL={tmp_path}/bin/kubectl"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no answer from 127.0.0.1:8080 after 2 tries" in result.stderr
    assert "get secret driftloop-api-tokens -o jsonpath={.data.score}" in (tmp_path / "kubectl.log").read_text()
    assert "Authorization: Bearer score-token" in (tmp_path / "curl.log").read_text()


@pytest.mark.parametrize("use_case", ["fraud", "delivery"])
def test_make_predict_scores_the_release_use_cases_example_on_its_model(tmp_path: Path, use_case: str) -> None:
    """The model and the request follow the use case the release runs (its settings ConfigMap), not fraud's."""
    import json

    from pipelines.core.use_case import load_use_case

    declared = load_use_case(use_case)
    env = _host(tmp_path)
    _release_kubectl(tmp_path, use_case, declared.model_name)
    _stub(tmp_path / "bin", "curl", f"""printf '%s\\n' "$@" > {tmp_path}/curl.args; echo '{{"predictions": [1]}}'""")
    result = subprocess.run(
        ["make", "--no-print-directory", "predict", f"KUBECTL={tmp_path}/bin/kubectl"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    args = (tmp_path / "curl.args").read_text().splitlines()
    assert f"127.0.0.1:8080/v1/models/{declared.model_name}:predict" in args
    assert json.loads(args[args.index("-d") + 1]) == {"instances": [dict(declared.example_request)]}


def test_make_predict_says_so_when_there_is_no_token(tmp_path: Path) -> None:
    env = _host(tmp_path)
    _stub(tmp_path / "bin", "kubectl", "echo 'secrets \"driftloop-api-tokens\" not found' >&2; exit 1")
    result = subprocess.run(
        ["make", "--no-print-directory", "predict", f"KUBECTL={tmp_path}/bin/kubectl"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "no API token (Secret driftloop-api-tokens)" in result.stderr


def test_a_use_case_the_chart_does_not_run_is_refused_before_anything_is_created(tmp_path: Path) -> None:
    assert _up_check(_host(tmp_path), tmp_path, None, "--use-case", "delivery").returncode == 0
    result = _up_check(_host(tmp_path), tmp_path, None, "--use-case", "churn")
    assert result.returncode == 1
    assert "the chart runs no use case 'churn': choose one of fraud fraud_streaming delivery" in result.stderr


def test_make_up_passes_the_use_case_and_the_script_waits_on_its_model() -> None:
    """`make up USE_CASE=delivery` installs the chart with that use case; without it the chart's default (fraud)."""
    dry_run = subprocess.run(["make", "-n", "up", "USE_CASE=delivery"], cwd=REPO, capture_output=True, text=True)
    assert "up.sh" in dry_run.stdout and "--use-case delivery" in dry_run.stdout, dry_run.stdout + dry_run.stderr
    unset = {name: value for name, value in os.environ.items() if name != "USE_CASE"}
    default = subprocess.run(["make", "-n", "up"], cwd=REPO, capture_output=True, text=True, env=unset)
    assert "--use-case" not in default.stdout
    script = UP.read_text()
    assert '--set "useCase=$USE_CASE"' in script
    assert "fraud-detector" not in script, "the InferenceService and the endpoint are the release's model"
    assert "jsonpath='{.data.DRIFTLOOP_MODEL_NAME}'" in script and '"inferenceservice/$MODEL"' in script


def test_up_script_waits_on_what_it_means_to() -> None:
    """The waits and loads a second `make up` and Docker >= 29 need (read from the script)."""
    script = UP.read_text()
    assert "deployment -l application-crd-id=kubeflow-pipelines" in script, "KFP's wait must not cover our pods"
    assert "\nkind load image-archive" in script and "\nkind load docker-image" not in script
    assert "--dry-run=server" in script, "cert-manager's API is waited for before KServe's chart"
    assert "--set image.tag=" in script, "a new commit rolls the pods"
    assert "|| \\\n  echo" not in script, "an InferenceService timeout is reported, not swallowed by fail()"
    ray = script[script.index("if [[ $RAY ]]; then\n  step") :]
    assert '--repo "$KUBERAY_CHART_REPO"' in ray and '--version "$KUBERAY_VERSION"' in ray
    assert ray.index("kuberay-operator") < ray.index("helm/driftloop"), "the operator (and its CRD) comes first"
    assert "--for=condition=RayClusterProvisioned" in ray and "values-ray.yaml" in ray


def _pins(lock: Path) -> dict[str, str]:
    lines = (line.split(";")[0].strip() for line in lock.read_text().splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_the_image_installs_the_runtime_lock_with_bytecode_and_takes_the_version_last() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    recipe = (REPO / "platform/driftloop/cluster/scripts/install-runtime.sh").read_text()
    assert 'pip install --quiet --python "$python" --compile-bytecode -r "$input"' in recipe
    assert recipe.count("--compile-bytecode") == 2, "both the dependencies and the project are compiled"
    assert dockerfile.index("ARG DRIFTLOOP_CODE_VERSION") > dockerfile.rindex("install-runtime.sh"), (
        "the code version comes after every install layer"
    )
    runtime, full = _pins(REPO / "requirements-runtime.lock"), _pins(REPO / "requirements.lock")
    # (mypy stays: SQLAlchemy depends on it in the resolved set, so MLflow needs it at run time.)
    for tool in ("pytest", "ruff", "hypothesis", "tritonclient", "kubernetes-validate", "pandas-stubs"):
        assert tool not in runtime, f"{tool} is a development tool"
    assert {name: full[name] for name in runtime} == runtime, "the runtime lock pins the same versions"
    assert {"mlflow", "feast", "kserve", "onnxruntime", "skl2onnx"} <= set(runtime)
