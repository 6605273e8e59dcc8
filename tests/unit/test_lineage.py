"""The code version a model records: a checkout's commit, never the commit of a repository a venv sits in."""

from __future__ import annotations

import subprocess
from pathlib import Path

from pipelines.registry.lineage import CodeVersion, code_version

REPO = Path(__file__).resolve().parents[2]


def test_an_installed_package_inside_another_repository_takes_the_settings_version(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "--quiet", str(tmp_path)], check=True)
    site_packages = tmp_path / ".venv" / "lib" / "python3.11" / "site-packages"
    site_packages.mkdir(parents=True)
    assert code_version(site_packages, fallback="0123abc") == CodeVersion(commit="0123abc", dirty=False)


def test_a_checkout_records_its_commit() -> None:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    assert code_version(REPO, fallback="unused").commit == head.strip()
