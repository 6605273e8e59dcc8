"""Platform code names no use case's columns: it reads them from the declaration (issue 29).

Every name a use case declares (its name, entities and their keys, fields, label, feature views and features)
is searched for in the platform's code (identifiers and string literals, not comments or docstrings), in the
chart's templates and files, and in the compiled KFP pipeline. An identifier offends when one of its
`_`-separated parts runs spell a declared name (`customer_ids` names the entity `customer`); a category value
offends only as a whole string (`"online"`, quoted), since words like it are platform vocabulary too (the
online store).

Allowed: the settings' default use case (`DEFAULT_USE_CASE`), which has to name one, and the chart's files that
exist per use case (its copy of the declarations, which tests/cluster hold to them, and each use case's alert
tests).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

from pipelines.core.use_case import UseCase, known_use_cases, load_use_case

REPO = Path(__file__).resolve().parents[2]
PLATFORM_PACKAGES = ("pipelines", "serving", "monitoring", "feature_repo", "platform/driftloop")
PLATFORM_TEXT = ("helm/driftloop/templates", "helm/driftloop/files", "pipelines/kfp/compiled")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

# (file, line start) where a use case may be named: the platform's default.
ALLOWED_LINES = {("pipelines/core/settings.py", "DEFAULT_USE_CASE = ")}
ALLOWED_FILES = re.compile(r"helm/driftloop/files/(use-cases\.yaml|prometheus-rules-test-[a-z_]+\.yaml)")


def declared_names(use_case: UseCase) -> set[str]:
    names = {use_case.name, use_case.label.name}
    names.update(name for entity in use_case.entities for name in (entity.name, entity.key))
    names.update(field.name for field in use_case.fields)
    for view in use_case.views:
        names.add(view.name)
        names.update(feature.name for feature in view.features)
    return {name.lower() for name in names}


def category_values(use_case: UseCase) -> set[str]:
    return {value.lower() for field in use_case.fields for value in field.allowed}


def _spells(identifier: str, names: set[str]) -> str | None:
    """The declared name a run of the identifier's parts spells, if any."""
    parts = [part for part in identifier.lower().split("_") if part]
    for start in range(len(parts)):
        for end in range(start + 1, len(parts) + 1):
            if "_".join(parts[start:end]) in names:
                return "_".join(parts[start:end])
    return None


def _code_words(source: str) -> Iterator[tuple[int, str, bool]]:
    """(line, word, is a whole string) for identifiers, words of string literals and whole string literals,
    docstrings left out."""
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.NAME:
            yield token.start[0], token.string, False
        elif token.type == tokenize.STRING:
            is_docstring = previous in (tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT)
            if not is_docstring:
                for word in WORD.findall(token.string):
                    yield token.start[0], word, False
                try:
                    value = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    value = None
                if isinstance(value, str):
                    yield token.start[0], value, True
        if token.type not in (tokenize.COMMENT, tokenize.NL):
            previous = token.type


QUOTED = re.compile(r"""["']([^"'\n]{1,60})["']""")


def _text_words(text: str) -> Iterator[tuple[int, str, bool]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("#", "{{/*", "//")):
            continue
        for word in WORD.findall(line):
            yield number, word, False
        for quoted in QUOTED.findall(line):
            yield number, quoted, True


def offences(path: Path, names: set[str], values: set[str]) -> list[str]:
    return offences_in(str(path.relative_to(REPO)), path.read_text(), names, values)


def offences_in(relative: str, text: str, names: set[str], values: set[str]) -> list[str]:
    if ALLOWED_FILES.fullmatch(relative):
        return []
    lines = text.splitlines()
    allowed = {number for number, line in enumerate(lines, start=1) for file, start in ALLOWED_LINES
               if file == relative and line.startswith(start)}  # fmt: skip
    words = _code_words(text) if relative.endswith(".py") else _text_words(text)
    found = []
    for line, word, whole_string in words:
        spelled = word.lower() if word.lower() in values else None
        name = spelled if whole_string else _spells(word, names)
        if name is not None and line not in allowed:
            found.append(f"{relative}:{line}: {word} ({name})")
    return found


def platform_files() -> list[Path]:
    files = [path for root in PLATFORM_PACKAGES for path in sorted((REPO / root).rglob("*.py"))]
    files += [path for root in PLATFORM_TEXT for path in sorted((REPO / root).rglob("*")) if path.is_file()]
    return files


def test_every_installed_use_case_is_searched_for() -> None:
    assert "fraud" in known_use_cases()


def test_platform_code_names_no_use_case_column() -> None:
    names: set[str] = set()
    values: set[str] = set()
    for name in known_use_cases():
        use_case = load_use_case(name)
        names |= declared_names(use_case)
        values |= category_values(use_case)
    found = [line for path in platform_files() for line in offences(path, names, values)]
    assert not found, "platform code names a use case's columns:\n" + "\n".join(found[:20])


def test_the_one_allowed_name_is_the_default_use_case() -> None:
    """The exemption covers the default's line only: the same name anywhere else in the file offends."""
    settings_file = REPO / "pipelines/core/settings.py"
    names = declared_names(load_use_case("fraud"))
    assert offences(settings_file, names, set()) == []
    moved = settings_file.read_text().replace("DEFAULT_USE_CASE = ", "THE_DEFAULT = ")
    assert offences_in("pipelines/core/settings.py", moved, names, set()), "the name elsewhere offends"
