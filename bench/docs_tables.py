"""`make docs`: rewrite every generated block of README.md and docs/*.md from its source.

A block sits between `<!-- generated: KIND from SOURCE -->` and `<!-- end generated -->`. SOURCE is a published
bench result (docs/results/*.json, rendered by bench/result_tables.py) or, for KIND `settings`, the settings
object. Everything outside the blocks is prose and is never touched, so a figure and its commit cannot drift apart
and the text around them stays the author's.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.provenance import REPO
from bench.result_tables import RENDERERS, provenance_line
from driftloop.settings_doc import markdown_table

BLOCK = re.compile(
    r"(?P<open><!-- generated: (?P<kind>[\w-]+) from (?P<source>\S+) -->\n)"
    r"(?P<body>.*?)(?P<close><!-- end generated -->)",
    re.DOTALL,
)
SETTINGS_SOURCE = "driftloop.settings_doc"


@dataclass(frozen=True)
class Block:
    """One generated block of a document: what renders it (`kind`) from what (`source`, relative to the repo)."""

    document: Path
    kind: str
    source: str


def documents(root: Path = REPO) -> list[Path]:
    """The files that may hold generated blocks: the README and every page under docs/."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def blocks(root: Path = REPO) -> Iterator[Block]:
    """Every generated block of every document, in order."""
    for document in documents(root):
        for found in BLOCK.finditer(document.read_text()):
            yield Block(document, found["kind"], found["source"])


def render(kind: str, source: str, root: Path = REPO) -> str:
    """A block's body: the settings tables, or a bench table under the line naming its commit and time. A blank line
    ends every body, so the closing marker never reads as the table's last row."""
    if kind == "settings":
        if source != SETTINGS_SOURCE:
            raise ValueError(f"the settings tables come from {SETTINGS_SOURCE}, not {source}")
        return markdown_table() + "\n\n"
    if kind not in RENDERERS:
        raise ValueError(f"no renderer for generated block {kind!r} (known: {', '.join(sorted(RENDERERS))})")
    path = root / source
    if not path.is_file():
        raise FileNotFoundError(f"{source} is missing: `make publish-bench BENCH=...` after a bench run writes it")
    result = json.loads(path.read_text())
    lines, stamp = RENDERERS[kind](result), provenance_line(result, source)
    if kind.endswith("-headline"):  # the README's one-liners: the stamp ends the line, no line of its own
        return "\n".join([*lines[:-1], f"{lines[-1]} {stamp}", ""]) + "\n"
    return "\n".join([stamp, "", *lines, ""]) + "\n"


def regenerate(text: str, root: Path = REPO) -> str:
    """`text` with every generated block's body rendered afresh."""
    return BLOCK.sub(lambda m: m["open"] + render(m["kind"], m["source"], root) + m["close"], text)


def stale(root: Path = REPO) -> list[Path]:
    """The documents whose generated blocks differ from what their sources render now."""
    return [doc for doc in documents(root) if regenerate(doc.read_text(), root) != doc.read_text()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 naming stale documents")
    args = parser.parse_args()
    if args.check:
        if outdated := stale():
            sys.exit(f"stale generated tables in {', '.join(str(p.relative_to(REPO)) for p in outdated)}: make docs")
        return
    for document in documents():
        text = document.read_text()
        fresh = regenerate(text)
        if fresh != text:
            document.write_text(fresh)
            print(f"regenerated: {document.relative_to(REPO)}")  # noqa: T201 - the command's output


if __name__ == "__main__":
    main()
