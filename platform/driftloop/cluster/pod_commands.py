"""What `driftloop ARGS` becomes when it runs in a cluster release's predictor pod instead of on this machine.

Pure: no kubectl, no cluster. The demo's cluster target and the CLI's `--target cluster` both build their pod
commands here, so the secrets a command is given, how it is given them (stdin, never a command line: `ps` in the
pod and the API server's audit log would show it) and how a landing's files reach the pod are decided once.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.core.errors import DriftloopError
from pipelines.registry.users import CLUSTER_SECRET, PASSWORD_VARIABLE, USERNAME_VARIABLE, MlflowUser

PREDICTOR_SELECTOR = "serving.kserve.io/inferenceservice={model},component=predictor"
PREDICTOR_CONTAINER = "kserve-container"  # KServe's name for the model server container (the chart's too)
API_TOKENS_SECRET = "driftloop-api-tokens"  # the chart's credentials (templates/api-tokens.yaml; tests/cluster)
DATABASE_SECRET = "driftloop-postgres"  # the chart's database Secret (templates/secrets.yaml; tests/cluster)
LANDING_DIR_IN_POD = "/tmp"  # an emptyDir in the predictor pod: its root file system is read-only
REGISTRY_VARIABLE = "DRIFTLOOP_FEAST_REGISTRY_URI"


@dataclass(frozen=True)
class FromSecret:
    """An environment variable the pod's command reads from its stdin, the value read from a release Secret.

    Attributes:
        variable: the variable the command is given.
        secret: the release's Secret holding the value.
        key: the key in that Secret.
    """

    variable: str
    secret: str
    key: str


@dataclass(frozen=True)
class PodNeeds:
    """What a command needs that the predictor pod (an inference pod, no database login of its own) lacks.

    Attributes:
        secrets: values given on stdin, one line each, in this order.
        variables: values that are no secret, given on the command line.
    """

    secrets: tuple[FromSecret, ...] = ()
    variables: tuple[tuple[str, str], ...] = ()


REGISTRY_READER = FromSecret(REGISTRY_VARIABLE, DATABASE_SECRET, "feast-registry-reader-uri")
REGISTRY_WRITER = FromSecret(REGISTRY_VARIABLE, DATABASE_SECRET, "feast-registry-writer-uri")
MLFLOW_ADMIN = PodNeeds(
    secrets=(FromSecret(PASSWORD_VARIABLE, CLUSTER_SECRET, MlflowUser.ADMIN.password_file),),
    variables=((USERNAME_VARIABLE, MlflowUser.ADMIN.value),),
)
# By command path (the longest matching prefix wins); a path not here needs nothing. The Feast registry role a
# command needs (platform/driftloop/database/roles.py): a refresh materialises; a drift check looks features up;
# a landing takes the registry database's advisory locks when the data is on the object store. Model moves
# (`driftloop model ...`) write aliases, which only MLflow's admin may: the pod's own login reads.
POD_NEEDS: dict[tuple[str, ...], PodNeeds] = {
    ("features", "refresh"): PodNeeds(secrets=(REGISTRY_WRITER,)),
    ("monitor", "run"): PodNeeds(secrets=(REGISTRY_READER,)),
    ("data", "ingest"): PodNeeds(secrets=(REGISTRY_READER,)),
    ("model",): MLFLOW_ADMIN,
}
# Commands that record who acted (`loop pause`, model moves): the pod's user would be recorded otherwise.
RECORDS_WHO: frozenset[tuple[str, ...]] = frozenset({("loop", "pause"), ("loop", "resume"), ("model",)})


@dataclass(frozen=True)
class PodCommand:
    """A `driftloop` command as the predictor pod runs it.

    Attributes:
        argv: what follows `kubectl exec -i POD -c CONTAINER --`.
        secrets: whose values are the first lines of its stdin, in order.
        uploads: local files whose bytes follow those lines, in order (each read by `head -c` of its size).
    """

    argv: tuple[str, ...]
    secrets: tuple[FromSecret, ...] = ()
    uploads: tuple[Path, ...] = field(default=())


def _needs(args: Sequence[str]) -> tuple[PodNeeds, bool]:
    """The command's needs by its longest matching path, and whether it records who acted."""
    prefixes = [tuple(args[:length]) for length in range(len(args), 0, -1)]
    needs = next((POD_NEEDS[prefix] for prefix in prefixes if prefix in POD_NEEDS), PodNeeds())
    return needs, any(prefix in RECORDS_WHO for prefix in prefixes)


def _landing(args: Sequence[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """A landing's local files, each with its path in the pod (for the pod's shell), and the command's arguments
    quoted for that shell, each file replaced by its path there. Not a landing: no files."""
    quoted = [shlex.quote(arg) for arg in args]
    if tuple(args[:2]) != ("data", "ingest") or len(args) < 4:
        return [], quoted
    files = [Path(arg) for arg in args[3:] if not arg.startswith("-")]
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        raise DriftloopError(f"no such file to land: {', '.join(missing)}")
    names = [file.name for file in files]
    unique = len(set(names)) == len(names)
    in_pod_names = names if unique else [f"{i}-{name}" for i, name in enumerate(names)]
    uploads = [(file, f'"$d"/{shlex.quote(name)}') for file, name in zip(files, in_pod_names, strict=True)]
    in_pod = iter(path for _, path in uploads)
    pairs = zip(args[3:], quoted[3:], strict=True)
    return uploads, [*quoted[:3], *(shell if arg.startswith("-") else next(in_pod) for arg, shell in pairs)]


def pod_command(args: Sequence[str], operator: str | None = None) -> PodCommand:
    """`driftloop ARGS` for the predictor pod. `operator` (the person at this machine) becomes the pod command's
    `USER` where the command records who acted."""
    needs, records_who = _needs(args)
    variables = [*needs.variables, *((("USER", operator),) if operator and records_who else ())]
    uploads, shell_args = _landing(args)
    if not needs.secrets and not uploads:
        prefix = ["env", *(f"{name}={value}" for name, value in variables)] if variables else []
        return PodCommand((*prefix, "driftloop", *args))
    steps = [f"IFS= read -r {s.variable} && export {s.variable}" for s in needs.secrets]
    steps += [f"export {name}={shlex.quote(value)}" for name, value in variables]
    if not uploads:
        script = " && ".join([*steps, 'exec driftloop "$@"'])
        return PodCommand(("sh", "-c", script, "driftloop", *args), needs.secrets)
    # The files go to a folder of their own, removed when the landing ends (the emptyDir lives as long as the pod).
    steps.append(f"d=$(mktemp -d -p {LANDING_DIR_IN_POD}) && trap 'rm -rf \"$d\"' EXIT")
    steps += [f"head -c {file.stat().st_size} > {path}" for file, path in uploads]
    steps.append(" ".join(["driftloop", *shell_args]))
    return PodCommand(("sh", "-c", " && ".join(steps)), needs.secrets, tuple(file for file, _ in uploads))
