"""`make publish-bench BENCH=NAME`: copy the latest result of one bench into docs/results/NAME.json.

bench/results/ is git-ignored scratch; docs/results/ is committed and is what the documentation's tables are
generated from, so publishing is a deliberate step and a table changes only with the JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bench.provenance import REPO

logger = logging.getLogger(__name__)

RESULTS = REPO / "bench" / "results"
PUBLISHED = REPO / "docs" / "results"
# A published name: the file prefix its standalone main writes, and its key in `bench.run`'s results.
SOURCES = {
    "streaming-lift": ("streaming-lift", "streaming"),
    "gate-evidence": ("gate-evidence", "gate"),
    "stream-freshness": ("stream-freshness", "freshness"),
    "search": ("search", "search"),
}
PROVENANCE_KEYS = ("commit", "dirty", "finished_at")


class PublishError(Exception):
    """Nothing fit to publish: no result of that bench, or one that does not name its commit."""


def candidates(name: str, folder: Path = RESULTS) -> list[dict[str, Any]]:
    """Every result of bench `name` in `folder`: standalone runs whole, and its part of each `bench.run` result
    with that run's provenance."""
    prefix, key = SOURCES[name]
    found = [json.loads(path.read_text()) for path in folder.glob(f"{prefix}-*.json")]
    for path in folder.glob("bench-*.json"):
        run = json.loads(path.read_text())
        if key in run:
            found.append({**run[key], **{k: run[k] for k in PROVENANCE_KEYS if k in run}})
    return found


def latest(name: str, folder: Path = RESULTS) -> dict[str, Any]:
    """The newest result of `name` that records its commit (older runs do not: they cannot be published)."""
    stamped = [result for result in candidates(name, folder) if result.get("commit")]
    if not stamped:
        raise PublishError(
            f"no result of {name} in {folder} names its commit: run it again (`make bench`, or its module alone)"
        )
    return max(stamped, key=lambda result: str(result["finished_at"]))


def publish(name: str, folder: Path = RESULTS, to: Path = PUBLISHED) -> Path:
    """Write the latest result of `name` to `to/<name>.json` and return the path."""
    result = latest(name, folder)
    if result.get("dirty"):
        logger.warning("%s ran on %s with uncommitted changes: its tables will say so", name, result["commit"][:7])
    to.mkdir(parents=True, exist_ok=True)
    out = to / f"{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(SOURCES), help="the bench whose latest result is published")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        out = publish(args.name)
    except PublishError as error:
        sys.exit(f"error: {error}")
    print(f"published: {out.relative_to(REPO)}; `make docs` regenerates its tables")  # noqa: T201 - CLI output


if __name__ == "__main__":
    main()
