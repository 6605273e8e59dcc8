"""`driftloop use-case new`: the package it writes is valid, lint-clean and clashes with no platform name, and
what it refuses, it refuses in one line without writing anything.

The integration test (tests/integration/test_use_case_scaffold.py) trains what it writes on a real platform.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from driftloop.cli import app
from driftloop.use_case_scaffold import KINDS, destination, template_files
from pipelines.core.errors import DriftloopError
from pipelines.core.use_case import UseCase, load_use_case, validate
from pipelines.data.contract import validate_raw_data
from pipelines.data.raw_data import arrived
from tests.unit.test_no_use_case_names import category_values, declared_names, offences, platform_files

BIN = Path(sys.executable).parent
PACKAGE_FILES = {"__init__.py", "generator.py", "features.py", "target.py", "model.py"}
SHIPPED = ("fraud", "delivery")


def _new(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, ["use-case", "new", *args])
    return result.exit_code, result.output, result.exception


@pytest.fixture
def scaffolded(tmp_path: Path) -> Iterator[dict[str, UseCase]]:
    """One use case of each kind written by the CLI into `tmp_path`, imported from there as `name:USE_CASE`."""
    declared = {}
    for kind in KINDS:
        name = f"scaffolded_{kind}"
        code, output, _ = _new(name, "--dir", str(tmp_path), "--kind", kind)
        assert code == 0, output
        sys.path.insert(0, str(tmp_path / name))
        declared[kind] = load_use_case(f"{name}:USE_CASE")
    try:
        yield declared
    finally:
        for kind in KINDS:
            sys.path.remove(str(tmp_path / f"scaffolded_{kind}"))
            for module in [m for m in sys.modules if m.split(".")[0] == f"scaffolded_{kind}"]:
                del sys.modules[module]
        load_use_case.cache_clear()
        importlib.invalidate_caches()


def test_every_template_becomes_one_file_of_each_kind() -> None:
    names = [template.name for template in template_files()]
    for kind in KINDS:
        written = [target for name in names if (target := destination(name, kind)) is not None]
        assert sorted(written) == sorted({"pyproject.toml", "README.md", *PACKAGE_FILES}), kind


def test_new_writes_an_installable_package_whose_declaration_is_valid(
    scaffolded: dict[str, UseCase], tmp_path: Path
) -> None:
    for kind, use_case in scaffolded.items():
        project = tmp_path / use_case.name
        assert {path.name for path in (project / use_case.name).iterdir()} == PACKAGE_FILES
        pyproject = (project / "pyproject.toml").read_text()
        assert f'{use_case.name} = "{use_case.name}:USE_CASE"' in pyproject  # the entry point installing registers
        assert validate(use_case) == []
        assert use_case.label.kind == kind and use_case.metric.evidently == kind
        assert use_case.model_name == f"{use_case.name.replace('_', '-')}-model"


def test_the_generated_world_keeps_the_declared_data_contract(scaffolded: dict[str, UseCase]) -> None:
    end = datetime(2026, 1, 10, tzinfo=UTC)
    for use_case in scaffolded.values():
        generator = use_case.generator
        config = generator.config(end=end, days=4, size=8, drift_start_day=2)
        feeds = generator.generate_feeds(config)
        assert len(feeds.base.events) > 100 and len(feeds.drifted.events) > 10
        events, labels = arrived(feeds, config.end)
        report = validate_raw_data(events, labels, use_case, as_of=end)
        assert report.passed, report.summary()
        again = generator.generate_feeds(config)
        assert again.base.events.equals(feeds.base.events), "the same seed gives the same world"


def test_installing_a_new_use_case_would_keep_platform_code_free_of_its_names(
    scaffolded: dict[str, UseCase],
) -> None:
    """What tests/unit/test_no_use_case_names.py would search for once it is installed: its names are its own,
    no platform file names them, and none is fraud's or delivery's."""
    shipped = set().union(*(declared_names(load_use_case(name)) for name in SHIPPED))
    for use_case in scaffolded.values():
        names = declared_names(use_case) - {use_case.name}
        assert names and not names & shipped
        found = [line for path in platform_files() for line in offences(path, names, category_values(use_case))]
        assert found == []


def test_the_generated_code_is_lint_clean(tmp_path: Path) -> None:
    if not (BIN / "ruff").exists():
        pytest.skip("ruff is not installed (make install)")
    for kind in KINDS:
        name = f"a_long_name_for_a_{kind}_use_case_to_lint"  # the template's lines leave room for names this long
        assert _new(name, "--dir", str(tmp_path), "--kind", kind)[0] == 0
        project = tmp_path / name
        for check in (["check", "."], ["format", "--check", "."]):
            done = subprocess.run([str(BIN / "ruff"), *check], cwd=project, capture_output=True, text=True)
            assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Pumps", "not a lowercase Python identifier"),
        ("2nd", "not a lowercase Python identifier"),
        ("my-case", "not a lowercase Python identifier"),
        ("class", "a Python keyword"),
        ("json", "a module called 'json' is importable here already"),
        ("fraud", "a use case called 'fraud' is installed already"),
    ],
)
def test_new_refuses_a_name_it_cannot_use_and_writes_nothing(tmp_path: Path, name: str, reason: str) -> None:
    code, _, error = _new(name, "--dir", str(tmp_path))
    assert code == 1 and isinstance(error, DriftloopError)
    assert reason in error.message and "\n" not in error.message
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_an_existing_folder_and_leaves_it_alone(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code, _, error = _new("taken", "--dir", str(tmp_path))
    assert code == 1 and isinstance(error, DriftloopError)
    assert error.message == f"{tmp_path / 'taken'} exists already; choose another name or another --dir"
    assert [path.name for path in (tmp_path / "taken").iterdir()] == ["notes.txt"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["taken"]


def test_a_refusal_is_one_line_on_stderr_and_an_unknown_kind_a_usage_error(tmp_path: Path) -> None:
    command = [str(BIN / "driftloop"), "use-case", "new", "Bad", "--dir", str(tmp_path)]
    refused = subprocess.run(command, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: cannot create use case 'Bad'") and refused.stderr.count("\n") == 1
    code, output, _ = _new("fine", "--dir", str(tmp_path), "--kind", "ordinal")
    assert code == 2 and "ordinal" in output
    assert list(tmp_path.iterdir()) == []
