"""The CLI's basics (issue 32): `--version`, `-h` everywhere, group help that lists every command, `local up --help`
naming the services it really starts, and `--json` on `features status`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from driftloop.cli import app
from driftloop.local.services import local_services
from pipelines.core.settings import Settings


def _invoke(*args: str) -> Result:
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, list(args))


def _command_paths(group: TyperGroup, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every command under `group`, depth first, by the words that invoke it."""
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, TyperGroup):
            yield from _command_paths(command, (*prefix, name))


ROOT = typer.main.get_command(app)
assert isinstance(ROOT, TyperGroup)
COMMAND_PATHS = [path for path, _ in _command_paths(ROOT)]
GROUP_PATHS = [(), *(path for path, command in _command_paths(ROOT) if isinstance(command, TyperGroup))]


def _words(text: str) -> str:
    """Help text with its panel borders and line wrapping taken out."""
    return " ".join(text.replace("│", " ").split())


def test_version_prints_the_installed_version_and_exits_0() -> None:
    result = _invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"driftloop {metadata.version('driftloop')}\n"


@pytest.mark.parametrize("path", [(), *COMMAND_PATHS], ids=lambda path: " ".join(path) or "driftloop")
def test_h_is_help_on_every_group_and_command(path: tuple[str, ...], state_dir: Path) -> None:
    short, long = _invoke(*path, "-h"), _invoke(*path, "--help")
    assert short.exit_code == 0, short.output
    assert f"Usage: {' '.join(('driftloop', *path))} " in short.stdout
    assert short.stdout == long.stdout


@pytest.mark.parametrize("path", GROUP_PATHS, ids=lambda path: " ".join(path) or "driftloop")
def test_group_help_lists_every_command(path: tuple[str, ...], state_dir: Path) -> None:
    group = ROOT
    for name in path:
        group = group.commands[name]  # type: ignore[assignment]
    assert isinstance(group, TyperGroup)
    assert group.commands, f"{path} has no command"
    hidden = [name for name, command in group.commands.items() if command.hidden]
    assert hidden == [], f"hidden from `driftloop {' '.join(path)} --help`"
    listed = _words(_invoke(*path, "--help").stdout)
    for name in group.commands:
        assert f" {name} " in listed, f"`driftloop {' '.join(path)} --help` does not list {name}"


def test_local_up_help_names_every_service_it_can_start(state_dir: Path) -> None:
    """The most `local up` starts: the Ray head (the `ray` engine) and the stream worker (a streamed use case)."""
    most = Settings(state_dir=state_dir, feature_engine="ray", use_case="fraud_streaming")  # type: ignore[call-arg]
    names = [spec.name for spec in local_services(most)]
    assert {"ray", "stream-worker", "mlflow", "predictor"} <= set(names)
    result = _invoke("local", "up", "--help")
    assert result.exit_code == 0, result.output
    shown = _words(result.stdout)
    for name in names:
        assert name in shown, f"`local up --help` does not name {name}"
    assert "Evidently UI;" not in shown, "the old text, which left out the model servers and the monitor"


def test_features_status_takes_json(state_dir: Path) -> None:
    plain, flagged = _invoke("features", "status"), _invoke("features", "status", "--json")
    assert flagged.exit_code == 0, flagged.output
    shown = json.loads(flagged.stdout)
    assert shown == json.loads(plain.stdout)
    partitions = range(Settings().stream_partitions)  # fraud's card velocity, keyed by the card: nothing yet
    assert shown["refresh_watermark"] is None
    assert shown["streams"] == {f"customer.{index}": {"backlog": 0, "lag_s": 0.0} for index in partitions}
