"""Our own modules are imported at the top of a file, so a reader sees its dependencies there (issue 29).

An import of one of our packages inside a function body is allowed only where laziness is needed, and the line
says why: `# lazy: pulls pandas` (a light process, or `driftloop --help`, would load a heavy library it does not
need), `# lazy: cycle with X`. KFP's lightweight components are exempt as a file: KFP ships a component's
source alone, so everything it uses is imported in its body. Third-party imports are not checked here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OWN_PACKAGES = {"pipelines", "serving", "monitoring", "driftloop", "feature_repo", "use_cases"}
SOURCE_FOLDERS = ("pipelines", "serving", "monitoring", "feature_repo", "platform/driftloop", "use_cases")
EXEMPT_FILES = {"pipelines/kfp/components.py"}
LAZY_MARK = re.compile(r"#\s*lazy:\s*\S")


def _is_own(node: ast.Import | ast.ImportFrom) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] in OWN_PACKAGES
    return any(alias.name.split(".")[0] in OWN_PACKAGES for alias in node.names)


def unmarked_nested_imports(source: str) -> list[int]:
    """Lines of own-package imports inside a function body that carry no `# lazy: <why>` comment."""
    lines = source.splitlines()
    found: list[int] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom) and in_function and _is_own(child):
                end = child.end_lineno or child.lineno
                if not any(LAZY_MARK.search(line) for line in lines[child.lineno - 1 : end]):
                    found.append(child.lineno)
            visit(child, in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(source), in_function=False)
    return found


def test_the_detector_flags_an_unmarked_nested_import_and_accepts_a_marked_one() -> None:
    source = (
        "from pipelines.core.settings import Settings\n"  # 1: top of the file
        "import json\n"
        "def f() -> None:\n"
        "    import pandas\n"  # 4: third-party, not ours to check
        "    from pipelines.data.event_store import event_store_for\n"  # 5: flagged
        "    from monitoring.drift import (  # lazy: pulls evidently\n"  # 6: marked on its first line
        "        run_drift_report,\n"
        "    )\n"
        "class C:\n"
        "    async def m(self) -> None:\n"
        "        import serving.server\n"  # 11: flagged, in a method
        "        from . import sibling\n"  # 12: flagged, relative is ours
        "        from serving.fast_lane import FastPredictLane  # lazy:\n"  # 13: flagged, a mark without a reason
    )
    assert unmarked_nested_imports(source) == [5, 11, 12, 13]


def test_own_imports_sit_at_the_top_unless_marked_lazy() -> None:
    offenders = []
    for folder in SOURCE_FOLDERS:
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative in EXEMPT_FILES:
                continue
            offenders += [f"{relative}:{line}" for line in unmarked_nested_imports(path.read_text())]
    assert not offenders, (
        "own-package imports inside functions; move them to the top of the file, or mark why one must stay "
        "lazy with `# lazy: <why>` (e.g. `# lazy: pulls pandas`, `# lazy: cycle with X`):\n  " + "\n  ".join(offenders)
    )
