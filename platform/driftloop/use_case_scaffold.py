"""A new use-case package, written from the template this wheel ships (`driftloop use-case new`).

The template (`use_case_template/*.tmpl`, substituted with `string.Template`) is text, not code of ours: ruff,
mypy and the use-case name check never read it, and the package it becomes is the user's to edit. A file
named `<stem>.<kind>.py.tmpl` becomes `<stem>.py` for that kind of label only.
"""

from __future__ import annotations

import importlib.util
import keyword
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template
from typing import get_args

from pipelines.core.errors import DriftloopError
from pipelines.core.use_case import TargetKind, known_use_cases

logger = logging.getLogger(__name__)

TEMPLATE_FOLDER = "use_case_template"
TEMPLATE_SUFFIX = ".tmpl"
PROJECT_FILES = frozenset({"pyproject.toml", "README.md"})  # at the project's root; the rest in its package
KINDS: tuple[str, ...] = get_args(TargetKind)
NAME = re.compile(r"[a-z][a-z0-9_]*")


class ScaffoldError(DriftloopError):
    """A use case cannot be written as asked: the message says why and what to do instead."""


@dataclass(frozen=True)
class Scaffold:
    """A written use case: its name and kind, the project folder (pyproject.toml) and the files in it."""

    name: str
    kind: str
    project: Path
    files: tuple[Path, ...]


def template_files() -> list[Traversable]:
    """The template's files, read from the installed package (so a wheel that leaves them out fails here)."""
    folder = files("driftloop") / TEMPLATE_FOLDER
    return sorted((item for item in folder.iterdir() if item.name.endswith(TEMPLATE_SUFFIX)), key=lambda t: t.name)


def destination(template_name: str, kind: str) -> str | None:
    """The file a template becomes for `kind` (`model.binary.py.tmpl` -> `model.py`), None when it is another
    kind's."""
    parts = template_name.removesuffix(TEMPLATE_SUFFIX).split(".")
    if len(parts) == 3 and parts[1] in KINDS:
        return f"{parts[0]}.{parts[2]}" if parts[1] == kind else None
    return ".".join(parts)


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a new use case (its package, entry point and DRIFTLOOP_USE_CASE value), or None."""
    if not NAME.fullmatch(name):
        return f"{name!r} is not a lowercase Python identifier (a letter, then letters, digits or _)"
    if keyword.iskeyword(name):
        return f"{name!r} is a Python keyword"
    if name in known_use_cases():
        return f"a use case called {name!r} is installed already (`driftloop use-case list`)"
    if importlib.util.find_spec(name) is not None:
        return f"a module called {name!r} is importable here already: the new package would clash with it"
    return None


def substitutions(name: str, kind: str) -> dict[str, str]:
    """What the template's `${...}` placeholders become."""
    dashed = name.replace("_", "-")
    return {
        "name": name,
        "kind": kind,
        "distribution": f"driftloop-use-case-{dashed}",
        "model_name": f"{dashed}-model",
        "experiment": f"driftloop-training-{dashed}",
        "feast_project": f"driftloop_{name}",
    }


def write_use_case(name: str, directory: Path, kind: str) -> Scaffold:
    """Write the project `directory/name/` (pyproject.toml, README.md, the package `name/`) for a `kind` label.

    The files are written into a temporary folder beside it and moved into place at once, so a failure leaves
    nothing half-written behind.
    """
    if kind not in KINDS:
        raise ScaffoldError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
    problem = name_problem(name)
    if problem:
        raise ScaffoldError(f"cannot create use case {name!r}: {problem}; choose another name")
    project = directory / name
    if project.exists():
        raise ScaffoldError(f"{project} exists already; choose another name or another --dir")
    directory.mkdir(parents=True, exist_ok=True)
    values = substitutions(name, kind)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=directory))
    try:
        (staging / name).mkdir()
        written = []
        for template in template_files():
            target = destination(template.name, kind)
            if target is None:
                continue
            relative = Path(target) if target in PROJECT_FILES else Path(name, target)
            (staging / relative).write_text(Template(template.read_text()).substitute(values))
            written.append(relative)
        staging.rename(project)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.debug("wrote use case %s (%s) in %s", name, kind, project)
    return Scaffold(name, kind, project, tuple(project / relative for relative in sorted(written)))


def next_steps(scaffold: Scaffold) -> list[str]:
    """What to do with a new use case, as commands that work when pasted (paths as the user gave them)."""
    name, project = scaffold.name, scaffold.project
    return [
        "next steps:",
        f"  1. edit the declaration, {project / name / '__init__.py'}, and the target, features, model and "
        "generator modules beside it",
        "  2. install it in driftloop's environment and select it:",
        f"       python -m pip install -e {project}",
        f"       export DRIFTLOOP_USE_CASE={name}",
        "     or select it uninstalled, from its folder:",
        f'       export PYTHONPATH="{project.resolve()}" DRIFTLOOP_USE_CASE={name}:USE_CASE',
        "  3. check it (a declaration that contradicts itself is refused with every problem):",
        "       driftloop use-case show",
        "  4. train it on its generated world (state in DRIFTLOOP_STATE_DIR, default .driftloop):",
        "       driftloop local up",
        "       driftloop data generate",
        "       driftloop data ingest events .driftloop/data/raw/events.parquet",
        "       driftloop data ingest labels .driftloop/data/raw/labels.parquet",
        "       driftloop pipeline run training",
    ]
