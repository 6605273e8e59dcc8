"""Shared fixtures: free loopback ports and an isolated state folder per test."""

from __future__ import annotations

import socket
from collections.abc import Iterator

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


def _shared_group(item: pytest.Item) -> str:
    """The xdist group of a test: the folder whose session fixture it uses (the trained platform, the parity
    run, the rendered charts), else its module. Tests sharing an expensive fixture then run in one worker,
    which builds it once, and module fixtures are never built twice."""
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        definition = definitions[-1]
        if definition.scope == "session" and definition.baseid:
            return f"session:{definition.baseid}"
    return f"module:{item.nodeid.split('::', 1)[0]}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `pytest -n N --dist loadgroup` (`make test`), groups run side by side, each in one worker."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_shared_group(item)))
