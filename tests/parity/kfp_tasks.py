"""What KFP's backend would do with a submitted run, done here: each task's environment from the run's
Kubernetes platform config (ConfigMap and Secret keys as env, the state claim mounted) resolved against the
rendered chart, then the IR's executors through kfp.local (run_ir) in the image-equivalent environment, as the
image's user, with nothing of the checkout on their path. Labelled: this is a stand-in for the KFP
backend; KFP's driver, launcher and Argo are not exercised."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.image_env import image_user, user_options
from tests.parity.chart import ChartFinding, RenderedChart, Volume
from tests.parity.cluster_map import ClusterMap
from tests.parity.image import base_path, dockerfile_environment, image
from tests.parity.pods import give_to

TASK_POD = "kfp-task"


def task_environment(platform_spec: dict[str, Any], chart: RenderedChart, table: ClusterMap) -> dict[str, str]:
    """One environment for every executor (kfp.local runs them all in one); they must agree."""
    executors = platform_spec["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    configs = {json.dumps(config, sort_keys=True) for config in executors.values()}
    if len(configs) != 1:
        raise ChartFinding("the training tasks differ in their Kubernetes config; the harness runs them alike")
    config = next(iter(executors.values()))
    env: dict[str, str] = {**dockerfile_environment(), "PATH": base_path(), "LANG": "C.UTF-8"}
    mounted: dict[str, Path] = {}
    for mount in config.get("pvcMount", []):
        volume = Volume("state", "persistentVolumeClaim", mount["constant"])
        folder = table.volume_dir(volume, TASK_POD)
        folder.mkdir(parents=True, exist_ok=True)
        mounted[mount["mountPath"]] = folder
    for source in config.get("configMapAsEnv", []):
        values = chart.config_map(source["configMapName"])
        for pair in source["keyToEnv"]:
            if pair["configMapKey"] not in values and source.get("optional"):
                continue  # as Kubernetes does with an optional ConfigMap key that is absent
            if pair["configMapKey"] not in values:
                raise ChartFinding(
                    f"task env {pair['envVar']}: {source['configMapName']} has no {pair['configMapKey']}"
                )
            env[pair["envVar"]] = values[pair["configMapKey"]]
    for source in config.get("secretAsEnv", []):
        if source.get("optional") and not chart.renders("Secret", source["secretName"]):
            continue  # as Kubernetes does with an optional Secret that does not exist (KFP's own, here absent)
        values = chart.secret(source["secretName"])
        for pair in source["keyToEnv"]:
            if pair["secretKey"] not in values:
                raise ChartFinding(f"task env {pair['envVar']}: {source['secretName']} has no {pair['secretKey']}")
            env[pair["envVar"]] = values[pair["secretKey"]]
    tmp = table.root / "pods" / TASK_POD / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env["TMPDIR"] = str(tmp)
    if user := task_user():
        give_to(user, [tmp, *mounted.values()])
    return {name: table.rewrite(value, mounted, TASK_POD) for name, value in env.items()}


def task_user() -> tuple[int, int] | None:
    """The tasks run the driftloop image: as its USER when the harness is root."""
    import os

    return image_user() if os.geteuid() == 0 else None


def run_submitted(run: dict[str, Any], chart: RenderedChart, table: ClusterMap, logs: Path) -> str:
    """Execute one run the stand-in KFP API received; return its final state."""
    spec = run["pipeline_spec"]
    folder = table.root / "kfp" / run["run_id"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(spec["pipeline_spec"]))
    (folder / "parameters.json").write_text(json.dumps(run["runtime_config"]["parameters"]))
    env = task_environment(spec["platform_spec"], chart, table)
    # run_ir is a harness script, copied beside the run: the tasks import only what the image installed.
    runner = shutil.copy(Path(__file__).with_name("run_ir.py"), folder / "run_ir.py")
    if user := task_user():
        give_to(user, [folder])
    command = [str(image().python), runner, str(folder / "pipeline.yaml"), str(folder / "parameters.json"),
               str(folder / "root")]  # fmt: skip
    log = logs / f"kfp-{run['run_id']}.log"
    with log.open("ab") as handle:
        handle.write(f"kfp tasks run by {image().python}, uid {user or 'of the harness'}\n".encode())
        handle.flush()
        code = subprocess.run(command, env=env, cwd=folder, stdout=handle, stderr=subprocess.STDOUT, timeout=1800,
                              **user_options(user)).returncode  # type: ignore[call-overload]  # fmt: skip
    return "SUCCEEDED" if code == 0 else "FAILED"
