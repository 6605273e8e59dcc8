"""Every public class of ours says why it exists (issue 29's house rules): a class without a docstring fails."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("pipelines", "serving", "monitoring", "feature_repo", "platform/driftloop", "use_cases")


def undocumented_classes(source: str) -> list[str]:
    """Public classes (module-level or nested) in the source without a docstring, as `name:line`."""
    return [
        f"{node.name}:{node.lineno}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and not ast.get_docstring(node)
    ]


def test_the_check_finds_an_undocumented_public_class_and_spares_private_ones() -> None:
    source = 'class Told:\n    """Why."""\n\nclass Silent:\n    pass\n\nclass _Private:\n    pass\n'
    assert undocumented_classes(source) == ["Silent:4"]


def test_every_public_class_has_a_docstring() -> None:
    missing = [
        f"{path.relative_to(REPO)}:{found}"
        for package in PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        for found in undocumented_classes(path.read_text())
    ]
    assert not missing, "public classes without a docstring:\n" + "\n".join(missing)
