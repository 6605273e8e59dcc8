"""`driftloop --target cluster ...`: the same command, run in the cluster release's predictor pod.

The pod mounts the cluster's state and reads the release's settings, so the command there is the one the chart's
jobs run; this side only relays its output and exit code. Only commands listed here have a cluster path: any
other refuses in one line rather than act on this machine's state while the user means the cluster's.
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, cast

import typer
from typer.core import TyperGroup

from driftloop.cluster.pod_commands import pod_command
from driftloop.cluster.remote import ClusterAddress, ClusterPlatform
from pipelines.core.errors import DriftloopError
from pipelines.core.settings import Settings


class Target(StrEnum):
    """Where a command acts (`--target`; DRIFTLOOP_TARGET is the same choice)."""

    LOCAL = "local"
    CLUSTER = "cluster"


ARGS_KEY = "driftloop.args"  # where the root group leaves the words after its own options
# The commands with a cluster path, by path; a prefix covers every command under it. `model` is the model-moves
# group (issue 32, item 2): its moves get MLflow's admin login in the pod (pod_commands.POD_NEEDS).
CLUSTER_PATHS: frozenset[tuple[str, ...]] = frozenset(
    {
        ("data", "ingest", "events"),
        ("data", "ingest", "labels"),
        ("data", "status"),
        ("monitor", "run"),
        ("monitor", "status"),
        ("monitor", "quality"),
        ("features", "status"),
        ("loop", "pause"),
        ("loop", "resume"),
        ("loop", "status"),
        ("model",),
    }
)
# Commands about this machine or its client, not a platform's state: the same whatever the target.
CLIENT_SIDE: frozenset[str] = frozenset({"config", "use-case", "demo"})


class ArgsKeepingGroup(TyperGroup):
    """The root group, keeping the words after its own options for the root callback: Click hands them to the
    subcommand only after the callback ran, and `--target cluster` must send them to the pod instead."""

    # typer.Context is the public name of the Context class of typer's own (private) copy of Click.
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        ctx.meta[ARGS_KEY] = [*ctx._protected_args, *ctx.args]  # the subcommand's name is kept apart
        return super().invoke(ctx)


def command_path(root: TyperGroup, words: Sequence[str]) -> tuple[tuple[str, ...], bool]:
    """The command names at the head of `words`, and whether they end at a command (not a group)."""
    command: object = root
    path: list[str] = []
    for word in words:
        if not isinstance(command, TyperGroup) or word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
    return tuple(path), not isinstance(command, TyperGroup)


def has_cluster_path(path: tuple[str, ...]) -> bool:
    return any(path[: len(known)] == known for known in CLUSTER_PATHS)


def run_on_cluster(ctx: typer.Context, settings: Settings) -> int | None:
    """Run the invoked command in the release's predictor pod; its exit code. None: it runs here instead (help,
    a group's listing, a client-side command)."""
    words: list[str] = ctx.meta.get(ARGS_KEY, [])
    path, is_command = command_path(cast(TyperGroup, ctx.command), words)
    if not is_command or {"-h", "--help"} & set(words) or (bool(path) and path[0] in CLIENT_SIDE):
        return None
    if not has_cluster_path(path):
        raise DriftloopError(
            f"`driftloop {' '.join(path)}` has no cluster path; run it with --target local (DRIFTLOOP_TARGET)"
        )
    platform = ClusterPlatform(ClusterAddress.from_settings(settings), settings.model_name)
    return platform.run(pod_command(words, operator=_person())).returncode


def _person() -> str | None:
    """The OS user at this machine, whom a pause or a model move records (None: the machine does not say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None
