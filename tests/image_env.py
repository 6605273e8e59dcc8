"""The image-equivalent environment: the driftloop image's Python environment, built here without a container
engine by the Dockerfile's own recipe (platform/driftloop/cluster/scripts/install-runtime.sh): a fresh virtual
environment outside the work tree, the runtime lock, then the project as a built wheel, never editable.

It is cached under /var/tmp by the lock's, the recipe's, the interpreter's and the checkout's hash (the
dependencies) and the source's hash (the project, reinstalled when the source changed), so a test run pays
for it once per change. Its processes run as the image's non-root user when the suite runs as root (the
image's USER), with HOME=/tmp and a working folder outside the checkout: nothing of the repository is on
their `sys.path`.

What differs from the image: the interpreter is this machine's CPython 3.11 that a non-root user can run
(Debian's, here 3.11.2; the image has python:3.11-slim's), and the root file system is writable by root
(the non-root user writes nowhere but the folders the harness gives it, as under the chart's read-only root).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "platform" / "driftloop" / "cluster" / "scripts" / "install-runtime.sh"
RUNTIME_LOCK = REPO / "requirements-runtime.lock"
DOCKERFILE = REPO / "Dockerfile"
CACHE = Path("/var/tmp/driftloop-image-env")
# The folders the wheel is built from (pyproject: tool.setuptools.packages.find), and the project's metadata.
SOURCE_ROOTS = ("platform/driftloop", "pipelines", "serving", "monitoring", "feature_repo", "use_cases")
SOURCE_FILES = ("pyproject.toml", "README.md")
# Interpreters a non-root user can run, the image's own place first; the running one last (it may live under
# a home folder only root can enter, as pyenv's does here).
PYTHON_CANDIDATES = ("/usr/local/bin/python3.11", "/usr/bin/python3.11")


def image_user(dockerfile: Path = DOCKERFILE) -> tuple[int, int]:
    """The image's USER line, uid:gid."""
    found = re.search(r"^USER\s+(\d+):(\d+)\s*$", dockerfile.read_text(), re.MULTILINE)
    if found is None:
        raise AssertionError("the Dockerfile has no numeric USER uid:gid line")
    return int(found.group(1)), int(found.group(2))


def run_as_image_user() -> tuple[int, int] | None:
    """uid, gid to switch to: the image's user when the suite runs as root; otherwise the suite's own user,
    which is already not root."""
    return image_user() if os.geteuid() == 0 else None


def user_options(user: tuple[int, int] | None) -> dict[str, object]:
    """subprocess keyword arguments that start a process as `user` with no supplementary groups (root's
    group would otherwise come along)."""
    if user is None:
        return {}
    return {"user": user[0], "group": user[1], "extra_groups": []}


@dataclass(frozen=True)
class ImageEnvironment:
    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def python(self) -> Path:
        return self.bin / "python"

    @property
    def driftloop(self) -> Path:
        return self.bin / "driftloop"

    def site_packages(self) -> Path:
        (found,) = self.root.glob("lib/python3*/site-packages")
        return found

    def installed_files(self) -> list[str]:
        """The files the project's wheel installed, as its RECORD lists them (relative to site-packages)."""
        (record,) = self.site_packages().glob("driftloop-*.dist-info/RECORD")
        return [line.split(",", 1)[0] for line in record.read_text().splitlines() if line]


def _digest(*parts: bytes) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()[:16]


def source_fingerprint(repo: Path = REPO) -> str:
    """The hash of everything the wheel is built from: a change to any source file reinstalls the project."""
    files = [repo / name for name in SOURCE_FILES]
    for root in SOURCE_ROOTS:
        files += sorted(p for p in (repo / root).rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return _digest(*(str(path.relative_to(repo)).encode() + b"\0" + path.read_bytes() for path in files))


def _runs_as(python: str, user: tuple[int, int] | None) -> bool:
    try:
        done = subprocess.run([python, "-c", "import sys; assert sys.version_info[:2] == (3, 11)"],
                              capture_output=True, timeout=30, cwd="/", **user_options(user))  # type: ignore[call-overload]  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return bool(done.returncode == 0)


@cache
def image_python() -> str:
    """A CPython 3.11 that the image's user can run (the image is python:3.11)."""
    user = run_as_image_user()
    for candidate in (*PYTHON_CANDIDATES, os.path.realpath(sys.executable)):
        if os.path.exists(candidate) and _runs_as(candidate, user):
            return candidate
    raise RuntimeError(f"no Python 3.11 that uid {user} can run; install Debian's python3.11")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time: test workers and `make parity` may ask for the environment together."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _uv() -> Path:
    """The checkout's pinned uv (`make install` puts it beside the interpreter): no second download."""
    return Path(sys.executable).with_name("uv")


def _recipe(step: str, python: Path, source: Path) -> None:
    done = subprocess.run(["bash", str(RECIPE), step, str(python), str(source)], env={**os.environ, "UV": str(_uv())},
                          capture_output=True, text=True, cwd=REPO)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"install-runtime.sh {step} failed:\n{done.stdout}\n{done.stderr}")


def image_environment() -> ImageEnvironment:
    """The environment, built or brought up to date: dependencies by the lock, the project by the source."""
    python = image_python()
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True)
    # The checkout's path too: two checkouts (a CI clone beside a work tree) never reinstall each other's project.
    key = _digest(RUNTIME_LOCK.read_bytes(), RECIPE.read_bytes(), python.encode(), version.stdout.encode(),
                  str(REPO).encode())  # fmt: skip
    environment = ImageEnvironment(CACHE / key)
    with _locked(CACHE / f"{key}.lock"):
        dependencies_done = environment.root / ".dependencies-installed"
        if not dependencies_done.exists():
            shutil.rmtree(environment.root, ignore_errors=True)
            subprocess.run([str(_uv()), "venv", "--quiet", "--seed", "--python", python, str(environment.root)],
                           check=True)  # fmt: skip
            _recipe("dependencies", environment.python, RUNTIME_LOCK)
            dependencies_done.touch()
        project_done = environment.root / ".project-source"
        fingerprint = source_fingerprint()
        if not project_done.exists() or project_done.read_text() != fingerprint:
            _recipe("project", environment.python, REPO)
            project_done.write_text(fingerprint)
    CACHE.chmod(0o755)
    return environment
