"""What a model version must say about where it came from: data fingerprint and code version."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)


def frame_fingerprint(*frames: pd.DataFrame) -> str:
    """A sha256 of the frames' content (values, column names and order), independent of file encoding."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(",".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class CodeVersion:
    """The commit a model was trained from, and whether the checkout had uncommitted changes."""

    commit: str
    dirty: bool


def code_version(repo_dir: Path, fallback: str | None = None) -> CodeVersion:
    """The git commit of the code and whether the work tree had changes; fallback where there is no git.

    Only a checkout of driftloop itself answers: an installed package (the image, a wheel in a user's venv)
    lives in site-packages, and a git repository around that venv is somebody else's code."""
    if not (repo_dir / ".git").exists():
        logger.info("%s is not a checkout; code version from settings: %s", repo_dir, fallback)
        return CodeVersion(commit=fallback or "unknown", dirty=False)
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo_dir), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(repo_dir), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        logger.info("no git checkout at %s; code version from settings: %s", repo_dir, fallback)
        return CodeVersion(commit=fallback or "unknown", dirty=False)
    return CodeVersion(commit=commit, dirty=bool(status))
