"""Shared fixtures: free loopback ports and an isolated state folder per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No DRIFTLOOP_* variable from the caller's shell leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("DRIFTLOOP_"):
            monkeypatch.delenv(name)
    yield monkeypatch


@pytest.fixture
def state_dir(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Iterator[Path]:
    """The CLI's settings (read once per process, cached) read this test's own state folder."""
    from pipelines.core.settings import get_settings

    clean_env.setenv("DRIFTLOOP_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


# Folders whose tests share fixed addresses (the parity run's pod addresses 127.77.0.N): one group, never two
# of their tests at once.
SERIAL_FOLDERS = ("tests/parity/",)


def _shared_group(item: pytest.Item) -> str:
    """The xdist group of a test: its folder when that folder's tests share fixed addresses, else the folder
    whose session fixture it uses (the trained platform, the rendered charts), else its module. Tests sharing
    an expensive fixture then run in one worker, which builds it once, and module fixtures are built once."""
    for folder in SERIAL_FOLDERS:
        if item.nodeid.startswith(folder):
            return f"folder:{folder}"
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        definition = definitions[-1]
        if definition.scope == "session" and definition.baseid:
            return f"session:{definition.baseid}"
    return f"module:{item.nodeid.split('::', 1)[0]}"


# Folders in the order their groups start: the longest groups first (the demo, the trained platform), so the
# short ones fill in around them instead of leaving one worker alone with the demo at the end.
FOLDER_ORDER = ("tests/e2e/", "tests/integration/", "tests/parity/", "tests/cluster/", "tests/contract/", "tests/unit/")


def _folder_rank(item: pytest.Item) -> int:
    return next((rank for rank, folder in enumerate(FOLDER_ORDER) if item.nodeid.startswith(folder)), len(FOLDER_ORDER))


def pytest_itemcollected(item: pytest.Item) -> None:
    """Each test's group, marked as it is collected: xdist reads the marks in its own
    `pytest_collection_modifyitems`, which may run before ours."""
    item.add_marker(pytest.mark.xdist_group(_shared_group(item)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup --no-loadscope-reorder` (`make test`), groups run side by side, each
    in one worker, started in `FOLDER_ORDER`; within a group the file order holds."""
    items.sort(key=_folder_rank)
