"""The README and docs/: short enough to read, links that resolve, and generated tables that are exactly what their
sources render, so a figure can neither lose its JSON nor drift from it unnoticed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import docs_tables, publish
from bench.provenance import provenance
from bench.result_tables import RENDERERS

REPO = Path(__file__).resolve().parents[2]
README_MAX_LINES = 200
LINK = re.compile(r"\]\((?!https?://|mailto:|#)([^)\s]+)\)")


def missing_sources(root: Path) -> list[str]:
    """The published results (docs/results/*.json) a generated block names that do not exist under `root`."""
    return [
        f"{block.document.relative_to(root)}: {block.source}"
        for block in docs_tables.blocks(root)
        if block.source.startswith("docs/results/") and not (root / block.source).is_file()
    ]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # a `# comment` in a shell block is no heading
    return {_slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def _copy_docs(to: Path) -> Path:
    """README.md, docs/*.md and docs/results/ under `to`: a tree the checks can be proven on."""
    (to / "docs").mkdir()
    shutil.copy(REPO / "README.md", to / "README.md")
    for page in (REPO / "docs").glob("*.md"):
        shutil.copy(page, to / "docs" / page.name)
    shutil.copytree(REPO / "docs" / "results", to / "docs" / "results")
    return to


def test_the_readme_fits_in_200_lines() -> None:
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move detail to docs/"


def test_the_readme_and_docs_hold_generated_bench_figures() -> None:
    blocks = list(docs_tables.blocks(REPO))
    in_readme = [b for b in blocks if b.document.name == "README.md" and b.source.startswith("docs/results/")]
    assert in_readme, "the README's figures have no generated block naming their JSON"
    assert {b.kind for b in blocks} <= {*RENDERERS, "settings"}


def test_every_figure_source_exists() -> None:
    assert missing_sources(REPO) == []


def test_a_missing_figure_source_fails(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text().replace("docs/results/gate-evidence.json", "docs/results/gone.json", 1))
    assert missing_sources(root) == ["README.md: docs/results/gone.json"]
    with pytest.raises(FileNotFoundError, match="docs/results/gone.json is missing"):
        docs_tables.stale(root)


def test_generated_tables_are_what_their_sources_render() -> None:
    assert docs_tables.stale(REPO) == [], "a generated table was edited by hand or is stale: run `make docs`"


def test_a_hand_edited_figure_is_stale(tmp_path: Path) -> None:
    root = _copy_docs(tmp_path)
    page = root / "docs" / "benchmarks.md"
    text = page.read_text()
    assert "| 0 of 20 | <= 10% |" in text
    page.write_text(text.replace("| 0 of 20 | <= 10% |", "| 1 of 20 | <= 10% |", 1))
    assert docs_tables.stale(root) == [page]
    page.write_text(docs_tables.regenerate(page.read_text(), root))
    assert page.read_text() == text


def test_every_published_result_names_its_commit() -> None:
    for path in sorted((REPO / "docs" / "results").glob("*.json")):
        result = json.loads(path.read_text())
        assert re.fullmatch(r"[0-9a-f]{40}", result["commit"]) and result["finished_at"], path.name


@pytest.mark.parametrize("page", ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))])
def test_relative_links_resolve(page: str) -> None:
    source = REPO / page
    for target in LINK.findall(source.read_text()):
        path, _, anchor = target.partition("#")
        linked = (source.parent / path).resolve()
        assert linked.exists(), f"{page} links to {target}, which does not exist"
        if anchor and linked.suffix == ".md":
            assert anchor in _anchors(linked), f"{page} links to {target}: no such heading"


def test_the_readme_links_every_docs_page() -> None:
    readme = (REPO / "README.md").read_text()
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f"(docs/{page.name}" in readme, f"the README does not link docs/{page.name}"


def test_provenance_names_the_commit_checked_out() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
    stamp = provenance()
    assert stamp["commit"] == head.stdout.strip()
    assert stamp["finished_at"].endswith("+00:00")


def test_publish_takes_the_newest_result_that_names_its_commit(tmp_path: Path) -> None:
    runs, published = tmp_path / "results", tmp_path / "published"
    runs.mkdir()
    (runs / "streaming-lift-1.json").write_text(json.dumps({"seeds": [1], "finished_at": "2026-12-06T00:00:00"}))
    stamped = {"seeds": [2], "commit": "a" * 40, "finished_at": "2026-12-05T00:00:00+00:00"}
    (runs / "streaming-lift-2.json").write_text(json.dumps(stamped))
    quick = {"streaming": {"seeds": [3]}, "commit": "b" * 40, "finished_at": "2026-12-04T00:00:00+00:00"}
    (runs / "bench-quick-3.json").write_text(json.dumps(quick))
    out = publish.publish("streaming-lift", runs, published)
    assert json.loads(out.read_text()) == stamped
    (runs / "streaming-lift-2.json").unlink()
    assert publish.latest("streaming-lift", runs) == {"seeds": [3], **{k: quick[k] for k in ("commit", "finished_at")}}
    (runs / "bench-quick-3.json").unlink()
    with pytest.raises(publish.PublishError, match="names its commit"):
        publish.latest("streaming-lift", runs)
