"""Where a bench result came from: the commit it ran on, whether the tree had changes, and when it finished.

One owner of the stamp every bench main adds to its JSON, so a published figure names its commit from the run
itself and never from memory (docs/benchmarks.md's tables are generated from these fields).
"""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]


def _git(*args: str) -> str | None:
    """git's output in the repository, or None where git or the repository is absent (an exported tree)."""
    try:
        done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("no commit for the bench result: git %s failed (%s)", " ".join(args), error)
        return None
    return done.stdout


def provenance() -> dict[str, Any]:
    """`commit` (git rev-parse HEAD, None without git), `dirty: true` only when the tree had changes (a result of
    uncommitted code is not that commit's), and `finished_at` (UTC, ISO 8601)."""
    head = _git("rev-parse", "HEAD")
    stamp: dict[str, Any] = {"commit": head.strip() if head else None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    if status:
        stamp["dirty"] = True
    stamp["finished_at"] = datetime.now(UTC).isoformat()
    return stamp


def write_result(folder: Path, prefix: str, results: dict[str, Any]) -> Path:
    """Write `results` with its provenance as `folder/<prefix>-<UTC time>.json` and return the path."""
    stamped = {**results, **provenance()}
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{prefix}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(stamped, indent=2) + "\n")
    return out
